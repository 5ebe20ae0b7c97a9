import { z } from 'zod';
import { JOB_TYPES, jobTypeName, jobTypeSpecSchema, WORKER_POOLS, type JobTypeSpec } from '@conveyor/jobs';
import type { Condition } from '../operator/conditions.js';
import type { ResourceObject } from '../operator/resource.js';

/**
 * Glossary. JobType: the custom resource declaring one job type of the registry (Postgres). Its
 * type name is spec.name, or the object's name when that is unset (an object name cannot hold "_").
 * Owner: of several JobTypes naming the same type (in different namespaces), the oldest; only it
 * registers and retires the type, the others report NameConflict.
 */
export const PLURAL = 'jobtypes';
export const KIND = 'JobType';
/** Held until the type is retired, so a JobType deleted while no operator ran is still retired. */
export const FINALIZER = 'conveyor.dev/job-type';

export interface JobTypeStatus {
  observedGeneration?: number;
  /** The type name registered (spec.name or the object's name). */
  typeName?: string;
  /** The registry version the spec of observedGeneration is. */
  version?: number;
  conditions?: Condition[];
}

export type JobTypeObject = ResourceObject<Record<string, unknown>, JobTypeStatus>;

export function typeNameOf(obj: JobTypeObject): string {
  const name = obj.spec?.name;
  return typeof name === 'string' ? name : obj.metadata.name;
}

export type SpecCheck =
  | { ok: true; name: string; spec: JobTypeSpec }
  | { ok: false; reason: 'InvalidSpec' | 'BuiltIn' | 'UnknownPool'; message: string };

/**
 * The CRD's schema and CEL rules already refused malformed fields; this re-checks them with the
 * api's own rules (one definition of a valid type) and adds what the API server cannot know.
 */
export function checkSpec(obj: JobTypeObject, knownPools: ReadonlySet<string>): SpecCheck {
  const name = jobTypeName.safeParse(typeNameOf(obj));
  if (!name.success) return { ok: false, reason: 'InvalidSpec', message: `name: ${name.error.issues[0]!.message}` };
  if (JOB_TYPES.has(name.data)) return { ok: false, reason: 'BuiltIn', message: `${name.data} is built in: the release registers it` };
  const { name: _name, ...fields } = obj.spec ?? {};
  const parsed = jobTypeSpecSchema(z.string()).safeParse(fields);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { ok: false, reason: 'InvalidSpec', message: `${issue.path.join('.') || 'spec'}: ${issue.message}` };
  }
  if (!knownPools.has(parsed.data.pool)) {
    return {
      ok: false,
      reason: 'UnknownPool',
      message: `pool ${parsed.data.pool} is neither a platform pool (${WORKER_POOLS.map((p) => p.name).join(', ')}) nor a WorkerPool`,
    };
  }
  // The schema as the API server stored it (zod's record copy would drop an own __proto__ key).
  return { ok: true, name: name.data, spec: { ...parsed.data, schema: fields.schema as Record<string, unknown> } };
}

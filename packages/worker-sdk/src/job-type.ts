import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { JobContext, JobResult } from '@conveyor/jobs';

/**
 * A job type as a worker runs it. The api decides what is accepted (the catalog today, the
 * registry's JobType later); the worker only checks that it knows the type and, with `schema`,
 * that the payload is what its handler expects.
 */
export interface JobTypeDefinition<P = unknown> {
  /** The type jobs are submitted with, e.g. `thumbnails.render`. */
  name: string;
  /** The definition's version (a JobType's spec.version); logged with each run. */
  version: number;
  /**
   * Any Standard Schema validator (zod, valibot, arktype...). A payload that fails it never runs:
   * its job is marked failed (`invalid payload: <path>: <issue>`) and the message goes to the DLQ.
   */
  schema?: StandardSchemaV1<unknown, P>;
  handler: (payload: P, ctx: JobContext) => Promise<JobResult>;
  /**
   * Longest run in seconds. A job carries its own timeout (set at submission); the shorter of the
   * two applies, so no run outlasts what the handler's author allowed.
   */
  timeout?: number;
  /** Most retries after the first attempt; like `timeout`, it caps the job's own `maxAttempts`. */
  retries?: number;
}

/**
 * A definition of any payload type, as runWorker takes a list of them. `any`, not `unknown`: the
 * payload type is both produced (schema) and consumed (handler), so no narrower type admits them all.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyJobTypeDefinition = JobTypeDefinition<any>;

/** Identity at runtime; gives the handler its payload type from the schema. */
export function defineJobType<P>(definition: JobTypeDefinition<P>): JobTypeDefinition<P> {
  const { name, version, timeout, retries } = definition;
  if (!name) throw new Error('defineJobType: name is required');
  if (!Number.isInteger(version) || version < 1) throw new Error(`defineJobType(${name}): version must be a positive integer`);
  if (timeout !== undefined && !(timeout > 0)) throw new Error(`defineJobType(${name}): timeout must be a positive number of seconds`);
  if (retries !== undefined && !(Number.isInteger(retries) && retries >= 0)) throw new Error(`defineJobType(${name}): retries must be a whole number >= 0`);
  return definition;
}

/** Checks a payload against the definition's schema: the payload to run, or the issues as one line. */
export async function validatePayload(type: AnyJobTypeDefinition, payload: unknown): Promise<{ ok: true; value: unknown } | { ok: false; error: string }> {
  if (!type.schema) return { ok: true, value: payload };
  const outcome = await type.schema['~standard'].validate(payload);
  if (!outcome.issues) return { ok: true, value: outcome.value };
  return { ok: false, error: outcome.issues.map((issue) => `${pathOf(issue)}: ${issue.message}`).join('; ') };
}

function pathOf(issue: StandardSchemaV1.Issue): string {
  const path = (issue.path ?? []).map((segment) => String(typeof segment === 'object' ? segment.key : segment));
  return path.length ? path.join('.') : '(payload)';
}

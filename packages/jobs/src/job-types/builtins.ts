import { z } from 'zod';
import type { Pool } from '@conveyor/platform';
import { JOB_TYPES } from '../catalog.js';
import { poolOf } from '../topology.js';
import { DEFAULT_PRIORITY } from '../priority.js';
import { announceJobType, registerJobType, type JobTypeSpec } from './registry.repo.js';

/** What a submit got before the registry existed when it named none (createJobs' fallbacks). */
export const JOB_DEFAULTS = { maxAttempts: 3, timeoutSeconds: 300, priority: DEFAULT_PRIORITY } as const;

/**
 * The registry entry of each built-in type: its zod payload schema as JSON Schema (the input side,
 * as a client writes it), its pool from topology.ts and today's defaults. What JSON Schema cannot
 * say (report.generate's from <= to) stays in the zod schema, which the api still applies to
 * built-ins after the registered schema.
 */
export function builtinSpecs(): Array<{ name: string; spec: JobTypeSpec }> {
  return [...JOB_TYPES.values()].map((type) => ({
    name: type.type,
    spec: {
      schema: z.toJSONSchema(type.payload, { io: 'input' }) as Record<string, unknown>,
      pool: poolOf(type.type)!.name,
      ...JOB_DEFAULTS,
      maxPayloadBytes: type.maxPayloadBytes,
      resultRetentionSeconds: null,
    },
  }));
}

/**
 * Registers the built-ins the way an operator registers any type, idempotently: run on every
 * migration, it adds a version only when a release changed one (the release owns its built-ins).
 */
export async function registerBuiltinJobTypes(pool: Pool): Promise<string[]> {
  const added: string[] = [];
  for (const { name, spec } of builtinSpecs()) {
    if ((await registerJobType(pool, name, spec)).created) {
      added.push(name);
      await announceJobType(pool, name);
    }
  }
  return added;
}

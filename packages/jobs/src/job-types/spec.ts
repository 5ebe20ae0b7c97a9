/** What a registered job type may hold: the api's PUT /job-types and the operator's JobType resources parse with it. */
import { z } from 'zod';
import { PRIORITY_CLASSES } from '../priority.js';
import { JOB_DEFAULTS } from './builtins.js';

/** Dotted lowercase words, as the built-ins (`points.grant`): they become SNS attribute values and metric labels. */
export const JOB_TYPE_NAME = /^[a-z][a-z0-9]*(?:[._-][a-z0-9]+)*$/;
export const jobTypeName = z
  .string()
  .max(64)
  .regex(JOB_TYPE_NAME, 'lowercase letters and digits in words joined by ".", "_" or "-", such as billing.invoice-send');

/** The registrable fields of a type; `pool` says which pools may run it (the api: the platform's own). */
export function jobTypeSpecSchema<P extends z.ZodType<string>>(pool: P) {
  return z
    .object({
      schema: z
        .record(z.string(), z.unknown())
        .describe('JSON Schema (draft 2020-12) of the payload; compiled in ajv strict mode, so unknown keywords and formats are refused.'),
      pool,
      maxAttempts: z.number().int().min(1).max(100).default(JOB_DEFAULTS.maxAttempts),
      timeoutSeconds: z.number().int().min(1).max(86_400).default(JOB_DEFAULTS.timeoutSeconds),
      priority: z.enum(PRIORITY_CLASSES).default(JOB_DEFAULTS.priority).describe('The class of its jobs when a submit names none.'),
      maxPayloadBytes: z.number().int().min(2).max(1024 * 1024).default(64 * 1024).describe('Largest payload, as serialised JSON bytes (413 above).'),
      resultRetentionSeconds: z
        .number()
        .int()
        .min(60)
        .max(366 * 86_400)
        .nullable()
        .default(null)
        .describe('How long results are meant to be kept. Recorded, not yet enforced: retention per type is RETENTION_OVERRIDES of the scheduler.'),
    })
    .strict();
}

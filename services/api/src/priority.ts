/**
 * A job's priority as the api takes it (POST /jobs, the batch, PUT /job-types): one schema for the
 * document and one check for the wire, so an unknown priority is 422 listing the valid classes,
 * whatever route it came by.
 */
import { z } from 'zod';
import { LEGACY_PRIORITY_RANGE, parsePriority, PRIORITY_CLASSES, type PriorityClass } from '@conveyor/jobs';
import { HttpError } from './http-errors.js';

/** What the OpenAPI document shows. */
export const prioritySchema = z
  .union([
    z.enum(PRIORITY_CLASSES),
    z
      .number()
      .int()
      .min(LEGACY_PRIORITY_RANGE.min)
      .max(LEGACY_PRIORITY_RANGE.max)
      .meta({ deprecated: true, description: 'Deprecated integer form: above 0 is high, 0 normal, below 0 low.' }),
  ])
  .describe(
    'Priority class: `high` work of a pool is taken before `normal`, `normal` before `low`, and each lower class keeps a guaranteed share of the receives (docs/design.md, "Priorities"). Anything else: 422 listing the valid classes.',
  )
  .meta({ examples: ['high'] });

/** What the routes parse with: anything, so that the check below answers 422 rather than zod's 400. */
export const priorityInput = z.unknown().optional();

/** The class of a given priority, or 422 naming the field and the valid classes. */
export function priorityOr422(value: unknown, path: PropertyKey[] = ['priority']): PriorityClass {
  const parsed = parsePriority(value);
  if (parsed.ok) return parsed.priority;
  throw new HttpError(422, parsed.problem.message, [{ path, message: parsed.problem.message, valid: parsed.problem.valid }]);
}

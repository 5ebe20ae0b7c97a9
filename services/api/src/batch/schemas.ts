/** POST /jobs/batch: its body and reply, validated here and documented by openapi.ts. */
import { z } from 'zod';
import { createJobBodies, idempotencyKey, jobAcceptedReply } from '../schemas.js';

export const MAX_BATCH_JOBS = 1000;

/**
 * The envelope only: each item is then validated as POST /jobs validates a body, so an invalid item
 * is reported by its index instead of failing the parse of the whole array.
 */
export const batchBody = z
  .object({
    jobs: z.array(z.unknown()).min(1),
  })
  .strict();

/** For the document: an item is a POST /jobs body plus its own Idempotency-Key (anyOf, as CreateJob: a registered type's body overlaps the built-ins'). */
export function batchBodyDocument(): z.ZodObject {
  const items = createJobBodies().map((body) => body.extend({ idempotencyKey: idempotencyKey.optional() }));
  return z
    .object({ jobs: z.array(z.union(items as unknown as [z.ZodObject, ...z.ZodObject[]])).min(1).max(MAX_BATCH_JOBS) })
    .strict();
}

const itemAccepted = jobAcceptedReply.extend({
  index: z.number().int().min(0),
  status: z.literal(202),
  replayed: z.boolean().describe('True when the item\'s idempotencyKey already named this job (same body).'),
});
const itemRefused = z.object({
  index: z.number().int().min(0),
  status: z.literal(409),
  error: z.string(),
  jobId: z.uuid().describe('The job that already holds the idempotencyKey.'),
});

export const batchReply = z.object({
  items: z.array(z.union([itemAccepted, itemRefused])).describe('One result per submitted item, in order.'),
});

export const batchInvalidDetails = z.object({
  limit: z.number().int().optional(),
  items: z
    .array(z.object({ index: z.number().int(), status: z.number().int(), error: z.string(), details: z.unknown().optional() }))
    .optional()
    .describe('Every invalid item, by index, with the error POST /jobs would answer for it.'),
});

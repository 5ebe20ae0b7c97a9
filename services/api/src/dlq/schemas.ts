/** GET /dlq and POST /dlq/redrive (scope conveyor:admin): queries, bodies and replies. */
import { z } from 'zod';
import { WORKER_POOLS } from '@conveyor/jobs';
import { instant } from '../schemas.js';

/** Most jobs one redrive requeues; a larger selection is sent again for the rest (`more`). */
export const MAX_REDRIVE = 10_000;

export const poolName = z.enum(WORKER_POOLS.map((p) => p.name) as [string, ...string[]]);

const filterShape = {
  pool: poolName.optional().describe('The worker pool whose dead letters (its job types).'),
  type: z.string().min(1).max(128).optional(),
  tenant: z.string().min(1).max(128).optional(),
  error: z.string().min(1).max(200).optional().describe('Part of the last error, any case.'),
  from: instant().optional().describe('Died at or after this instant.'),
  to: instant().optional().describe('Died before this instant.'),
};

export const deadLetterFilter = z.object(filterShape).strict();
export type DeadLetterFilter = z.infer<typeof deadLetterFilter>;

export const listDeadLettersQuery = z
  .object({
    ...filterShape,
    cursor: z.string().min(1).max(200).optional().describe('`nextCursor` of the previous page.'),
    limit: z.coerce.number().int().min(1).max(100).default(50),
  })
  .strict();

export const redriveBody = z.union([
  z.object({ jobIds: z.array(z.guid()).min(1).max(1000).describe('These dead letters (others are skipped).') }).strict(),
  z.object({ filter: deadLetterFilter.describe('Every dead letter matching (the same filters as GET /dlq).') }).strict(),
  z.object({ all: z.literal(true).describe('Every dead letter of every pool.') }).strict(),
]);
export type RedriveSelection = z.infer<typeof redriveBody>;

export const deadLetter = z.object({
  jobId: z.uuid(),
  pool: z.string().nullable(),
  type: z.string(),
  tenant: z.string(),
  attempts: z.number().int(),
  maxAttempts: z.number().int(),
  error: z.string().nullable().describe('The last attempt\'s error.'),
  diedAt: z.iso.datetime(),
  createdAt: z.iso.datetime(),
  tags: z.array(z.string()),
});

export const deadLetterPage = z.object({ items: z.array(deadLetter), nextCursor: z.string().nullable() });

export const redriveReply = z.object({
  redriveId: z.uuid().describe('Recorded in each requeued job\'s `retried` event.'),
  status: z.literal('done'),
  matched: z.number().int().describe('Dead letters selected.'),
  requeued: z.number().int().describe('Of those, requeued now (the others were requeued by a concurrent redrive).'),
  more: z.boolean().describe(`True when the selection reached ${MAX_REDRIVE}: send the same request again for the rest.`),
  deletedMessages: z.number().int().describe('Messages of requeued jobs removed from the pools\' DLQs.'),
  sweptAll: z
    .boolean()
    .describe(
      'False when the DLQ sweep ran out of time, or found messages hidden by another sweep (one running, or one whose api was killed: they are visible again within 30 s). What it left is removed by the next redrive, and is harmless meanwhile: send the redrive again.',
    ),
  createdAt: z.iso.datetime(),
  finishedAt: z.iso.datetime(),
});

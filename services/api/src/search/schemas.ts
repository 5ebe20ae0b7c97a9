/** GET /jobs: the search's query and reply, validated here and documented by openapi.ts. */
import { z } from 'zod';
import { JOB_STATUSES } from '@conveyor/jobs';
import { MAX_COUNT } from './counts.js';
import { MAX_TAGS, idempotencyKey, instant, jobView, tag } from '../schemas.js';

/** The public status of a Job, and the phases of a running one: the same two fields as the Job itself. */
export const PUBLIC_STATUSES = ['running', 'success', 'failed', 'cancelled'] as const;
export const PHASES = ['scheduled', 'queued', 'processing', 'retrying'] as const satisfies readonly (typeof JOB_STATUSES)[number][];
export const SORTS = ['-createdAt', 'createdAt'] as const;

export const searchJobsQuery = z
  .object({
    status: z
      .enum([...PUBLIC_STATUSES, ...PHASES])
      .optional()
      .describe('A Job `status`; `running` matches every phase of a job in flight. A phase here is deprecated (use `phase`), accepted until the next release.'),
    phase: z.enum(PHASES).optional().describe('Narrows `status=running` (which it implies) to one phase, as a Job\'s `phase` says.'),
    type: z.string().min(1).max(128).optional(),
    tags: z
      .string()
      .min(1)
      .max(MAX_TAGS * 65)
      .optional()
      .describe(`Comma-separated labels (at most ${MAX_TAGS}): jobs carrying all of them.`)
      .meta({ example: 'env:prod,customer=42' }),
    from: instant().optional().describe('Created at or after this instant.'),
    to: instant().optional().describe('Created before this instant; must be later than `from`.'),
    idempotencyKey: idempotencyKey.optional().describe('The job submitted with this Idempotency-Key.'),
    tenant: z
      .string()
      .min(1)
      .max(128)
      .optional()
      .describe('Scope conveyor:admin: one tenant (an admin sees every tenant without it). Anyone else may name only their own (403).'),
    sort: z.enum(SORTS).default('-createdAt').describe('`-createdAt` newest first (default), `createdAt` oldest first.'),
    cursor: z.string().min(1).max(200).optional().describe('`nextCursor` of the previous page, with the same sort.'),
    limit: z.coerce.number().int().min(1).max(100).default(20),
  })
  .strict();

export type SearchJobsQuery = z.infer<typeof searchJobsQuery>;

/** The `tags` parameter split: each one a valid tag, as submits require. */
export const tagList = z.array(tag).min(1).max(MAX_TAGS);

export const jobListReply = z.object({
  items: z.array(jobView),
  nextCursor: z.string().nullable().describe('Pass as `cursor` for the next page; `null` on the last one. Jobs created meanwhile never shift a page.'),
});

/** GET /jobs/counts: the list's own filters but status (counted per status) and paging. */
export const countJobsQuery = searchJobsQuery
  .pick({ type: true, tags: true, from: true, to: true, tenant: true })
  .extend({
    limit: z.coerce
      .number()
      .int()
      .min(1)
      .max(MAX_COUNT)
      .default(MAX_COUNT)
      .describe(`Count up to this many jobs per status (at most ${MAX_COUNT}); a status with more is listed in \`capped\`.`),
  })
  .strict();

const perStatus = z.object(Object.fromEntries(JOB_STATUSES.map((status) => [status, z.number().int().min(0)])) as Record<(typeof JOB_STATUSES)[number], z.ZodNumber>);

export const jobCountsReply = z.object({
  counts: perStatus.describe('Jobs per stored status: the phases of a running job (scheduled, queued, processing, retrying) and the final ones. Each at most `limit`.'),
  capped: z.array(z.enum(JOB_STATUSES)).describe('The statuses holding more than `limit` jobs: read their count as "at least" (the console shows "10000+").'),
  limit: z.number().int().describe('The cap each count stopped at.'),
});


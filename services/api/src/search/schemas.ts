/** GET /jobs: the search's query and reply, validated here and documented by openapi.ts. */
import { z } from 'zod';
import { JOB_STATUSES } from '@conveyor/jobs';
import { MAX_TAGS, idempotencyKey, instant, jobView, tag } from '../schemas.js';

export const LIST_STATUSES = ['running', ...JOB_STATUSES] as const;
export const SORTS = ['-createdAt', 'createdAt'] as const;

export const searchJobsQuery = z
  .object({
    status: z.enum(LIST_STATUSES).optional().describe('`running` matches every phase of a job in flight.'),
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

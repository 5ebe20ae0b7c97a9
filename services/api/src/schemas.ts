/**
 * The zod schemas of the public API: the routes validate with them and openapi.ts documents them,
 * so the document cannot drift from what is enforced.
 */
import { z } from 'zod';
import { JOB_TYPES, pointsGrantPayload, reportGeneratePayload } from '@conveyor/jobs';
import { priorityInput, prioritySchema } from './priority.js';

/**
 * Types a client may submit through POST /jobs. points.grant is left out: it is created only with
 * its reservation (POST /points/reservations), or a client could grant itself points.
 */
export const PUBLIC_JOB_TYPES = [...JOB_TYPES.keys()].filter((t) => t !== 'points.grant') as [string, ...string[]];

/** An instant as clients write it, with an error that says so in words rather than zod's regex. */
export const instant = () =>
  z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time with a time zone, such as 2030-01-31T09:00:00Z or 2030-01-31T10:00:00+01:00' });

export const MAX_TAGS = 20;

/** A free label such as `env:prod` or `customer=42`: no spaces or commas, since GET /jobs takes them comma-separated. */
export const tag = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[\x21-\x2b\x2d-\x7e]+$/, 'printable ASCII without spaces or commas');

/** Stored once each and sorted: the order a client wrote them in means nothing. */
export function normalizeTags(tags: readonly string[] | undefined): string[] | undefined {
  return tags && [...new Set(tags)].sort();
}

export const MAX_CONCURRENCY_LIMIT = 1_000;

/** Jobs of a tenant with the same key run at most concurrencyLimit at once (design.md, "Quotas and concurrency limits"). */
/** A limit's key: what a tenant names the thing it limits by, such as `customer:42` or `api.example.com`. */
const limitKey = () =>
  z
    .string()
    .min(1)
    .max(128)
    .regex(/^[A-Za-z0-9._:=@/-]+$/, 'letters, digits and . _ : = @ / - only');

export const MAX_RATE_LIMIT_PER_SECOND = 1_000;

export const rateLimitKey = limitKey().describe(
  'At most `rateLimitPerSecond` jobs of your tenant with this key start in any second, across every worker (a handler calling a third party, say): more wait (`waitingReason: rate_limited`).',
);

export const rateLimitPerSecond = z
  .number()
  .int()
  .min(1)
  .max(MAX_RATE_LIMIT_PER_SECOND)
  .describe('How many jobs with this `rateLimitKey` may start in a second; 1 when absent. Only with `rateLimitKey`. Each job is held to its own.');

export const concurrencyKey = limitKey().describe('At most `concurrencyLimit` running jobs of your tenant share this key: more wait (`waitingReason: key_concurrency_limit`). For example `customer:42`.');

export const concurrencyLimit = z
  .number()
  .int()
  .min(1)
  .max(MAX_CONCURRENCY_LIMIT)
  .describe('How many jobs with this `concurrencyKey` may run at once; 1 when absent. Only with `concurrencyKey`. Each job is held to its own limit.');

export const jobOptionsShape = {
  runAt: instant()
    .optional()
    .describe('Run no earlier than this instant; later than now makes the job `scheduled`. At most RUN_AT_MAX_DAYS_BEHIND days (1) in the past and RUN_AT_MAX_DAYS_AHEAD days (365) in the future, else 422.'),
  priority: prioritySchema.optional(),
  maxAttempts: z.number().int().min(1).max(100).optional(),
  timeoutSeconds: z.number().int().min(1).max(86_400).optional(),
  callbackUrl: z.url({ protocol: /^https?$/ }).max(2048).optional().describe('Webhook called when the job ends.'),
  tags: z.array(tag).max(MAX_TAGS).optional().describe(`Free labels to find the job by (GET /jobs?tags=), at most ${MAX_TAGS}.`),
  concurrencyKey: concurrencyKey.optional(),
  concurrencyLimit: concurrencyLimit.optional(),
  rateLimitKey: rateLimitKey.optional(),
  rateLimitPerSecond: rateLimitPerSecond.optional(),
};

const typeVersion = z
  .number()
  .int()
  .min(1)
  .optional()
  .describe('The registered version of the type to validate against; the latest when absent (GET /job-types/{name}).');

/**
 * Everything but the payload, which the registered JSON Schema of the type validates once the
 * type is known (routes/jobs.ts): an unknown type is 422, not 400, as it names no registered type.
 */
export const createJobEnvelope = z
  .object({
    type: z.string().min(1).max(128).describe('A registered job type (GET /job-types).'),
    typeVersion,
    // Present, even if empty: `{}` for types that take nothing.
    payload: z.unknown().refine((v) => v !== undefined, { message: 'payload is required' }),
    ...jobOptionsShape,
    // Checked by priorityOr422 (routes/jobs.ts), so an unknown class is 422 with the valid ones.
    priority: priorityInput,
  })
  .strict();

/**
 * The document's request bodies: one per built-in type (the payload schemas its handlers use), and
 * one for any type registered at run time, whose payload schema GET /job-types/{name} serves.
 */
export function createJobBodies(): z.ZodObject[] {
  const builtins = PUBLIC_JOB_TYPES.map((type) =>
    z
      .object({ type: z.literal(type), typeVersion, payload: JOB_TYPES.get(type)!.payload, ...jobOptionsShape })
      .strict()
      .describe(`A ${type} job.`),
  );
  const registered = z
    .object({ type: z.string(), typeVersion, payload: z.unknown(), ...jobOptionsShape })
    .strict()
    .describe('A job of a registered type: its payload must match the JSON Schema of that type (GET /job-types/{name}).');
  return [...builtins, registered];
}

export const idempotencyKey = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces')
  .describe('Replaying the same key with the same body returns the first job; another body is 409.');

export const generateReportBody = reportGeneratePayload;

/**
 * One name per concept: a reservation's time is `runAt`, as on POST /jobs. `executeAt`, its first
 * name, is still accepted for one release (deprecated in the document); naming both is a 400.
 */
export const reservationBody = z
  .object({
    userId: pointsGrantPayload.shape.userId,
    amount: pointsGrantPayload.shape.amount.describe('Points to grant: at most POINTS_MAX_GRANT (10000 by default) per reservation, else 422.'),
    runAt: instant().optional().describe('When the points are granted; the same window as on POST /jobs (422 outside it).'),
    executeAt: instant().optional().describe('Deprecated: the former name of runAt, accepted until the next release.').meta({ deprecated: true }),
  })
  .strict()
  .refine((b) => (b.runAt === undefined) !== (b.executeAt === undefined), { message: 'give runAt (executeAt is its deprecated name), not both', path: ['runAt'] })
  // The field the client used, so an error names what it sent.
  .transform(({ executeAt, runAt, ...rest }) => ({ ...rest, runAt: (runAt ?? executeAt)!, runAtField: runAt === undefined ? 'executeAt' : 'runAt' }));

export const jobIdParam = z.object({ jobId: z.guid() });
export const notificationIdParam = z.object({ id: z.guid() });
export const userIdParam = z.object({ userId: pointsGrantPayload.shape.userId });

// Replies (documented, not validated at run time: the handlers build them from typed rows).

export const errorReply = z.object({
  error: z.string(),
  details: z.unknown().optional(),
  requestId: z.string().optional(),
});

export const jobAcceptedReply = z.object({ jobId: z.uuid(), statusUrl: z.string() });
export const reservationAcceptedReply = jobAcceptedReply.extend({ reservationId: z.uuid() });

export const WAITING_REASONS = ['scheduled', 'retry_backoff', 'pool_paused', 'type_paused', 'tenant_paused', 'tenant_concurrency_limit', 'key_concurrency_limit', 'rate_limited', 'queued'] as const;
export type WaitingReason = (typeof WAITING_REASONS)[number];

export const jobView = z.object({
  jobId: z.uuid(),
  type: z.string(),
  status: z.enum(['running', 'success', 'failed', 'cancelled']),
  phase: z
    .enum(['scheduled', 'queued', 'processing', 'retrying'])
    .optional()
    .describe('A delayed job turns `queued` up to the scheduler\'s dispatch lead (2 s by default) before its runAt, and never starts before it.'),
  progress: z.number().min(0).max(1).optional(),
  progressMessage: z.string().optional().describe('The note of the latest progress report (a worker SDK handler\'s ctx.progress(percent, message)).'),
  attempts: z.number().int(),
  maxAttempts: z.number().int(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
  runAt: z.iso.datetime().optional().describe('Not before this instant: the requested run time, then, after a failed attempt, the time of the next one.'),
  startedAt: z.iso.datetime().optional(),
  finishedAt: z.iso.datetime().optional(),
  traceId: z.string().optional(),
  cancelRequested: z.boolean().optional(),
  waitingReason: z
    .enum(WAITING_REASONS)
    .optional()
    .describe(
      'GET /jobs/{id} only, while the job waits to start: `scheduled` (its runAt is ahead), `retry_backoff` (a failed attempt\'s next one is due at runAt), `pool_paused` (its pool is paused: it runs after the resume), `type_paused` / `tenant_paused` (its job type or its tenant is paused: POST /job-types/{name}/resume or /tenants/{tenant}/resume; it runs after the resume), `tenant_concurrency_limit` (its tenant runs its maxRunning jobs already: PUT /tenants/{tenant}/quota), `key_concurrency_limit` (jobs with its concurrencyKey run at its concurrencyLimit already), `rate_limited` (jobs with its rateLimitKey started rateLimitPerSecond times in the last second), `queued` (due, waiting for a worker of its pool). A held job starts within a few seconds of a slot freeing.',
    ),
  downloadUrl: z.string().optional().describe('Present when status is `success`.'),
  error: z.string().optional().describe('Present when status is `failed`.'),
  tenant: z.string(),
  tags: z.array(z.string()).describe('The labels given at submit, sorted.'),
  payload: z.unknown().optional().describe('GET /jobs/{id} only: the payload given at submit, as stored. Lists and `Prefer: wait` replies leave it out.'),
});

export const cancelReply = z.object({
  jobId: z.uuid(),
  status: z.enum(['running', 'cancelled']).describe('`running` while a processing job is being aborted by its worker.'),
  phase: z.literal('processing').optional(),
});

export const balanceReply = z.object({ userId: z.string(), balance: z.number().int() });

export const notificationsReply = z.object({
  items: z.array(
    z.object({ id: z.uuid(), jobId: z.uuid(), kind: z.string(), message: z.string(), createdAt: z.iso.datetime() }),
  ),
});

/** GET /pools, GET /pools/{name} and POST /pools/{name}/pause, /resume: what a worker pool is doing. */
import { z } from 'zod';
import { poolName } from '@conveyor/jobs';

/** A platform pool or a team pool (one a registered job type names). */
export const poolNameParam = z.object({ name: poolName });

export const poolStatus = z.object({
  name: z.string(),
  jobTypes: z.array(z.string()),
  paused: z.boolean().describe('A paused pool accepts jobs and holds them: its workers receive nothing and claim nothing until it is resumed; running jobs finish.'),
  pausedAt: z.iso.datetime().nullable().describe('When the pool was paused; null while it runs.'),
  pausedBy: z.string().nullable().describe('Who paused it (their subject); null while it runs.'),
  pauseReason: z.string().nullable().describe('The reason given when it was paused, if any.'),
  queue: z
    .object({
      waiting: z.number().int().describe('Visible messages in the pool\'s SQS queues (every priority class).'),
      inFlight: z.number().int().describe('Received by a worker and not yet deleted.'),
      delayed: z.number().int(),
      deadLetters: z.number().int().describe('Messages in the pool\'s DLQ.'),
      waitingByPriority: z
        .object({ high: z.number().int(), normal: z.number().int(), low: z.number().int() })
        .describe('Visible messages per priority class, both lanes of the class added up (0 for a queue that does not exist).'),
      waitingOverflow: z
        .number()
        .int()
        .describe("Of `waiting`, the visible messages in the pool's overflow lanes: jobs of tenants that had more than TENANT_OVERFLOW_AFTER waiting when they submitted."),
    })
    .nullable()
    .describe('SQS\'s approximate counts, across tenants: scope conveyor:admin only (null otherwise, or when SQS cannot be read).'),
  jobs: z.object({
    waiting: z.number().int().describe('Jobs queued or retrying (a retry waits out its backoff).'),
    processing: z.number().int(),
  }),
  oldestWaitingSeconds: z.number().nullable().describe('Since the oldest queued job became due; null when none is queued.'),
  throughput: z.object({ perSecond1m: z.number(), perSecond5m: z.number() }).describe('Jobs finished (success or failed) per second.'),
  estimatedDrainSeconds: z.number().nullable().describe('Waiting jobs over the last minute\'s throughput; null when nothing finished in it while jobs wait.'),
  workers: z.object({
    alive: z.number().int().describe('Workers that heartbeated a job of this pool in the last minute (an idle worker is not seen).'),
    slots: z.number().int().describe('Handler slots those workers fill now (their processing jobs).'),
  }),
  observedAt: z.iso.datetime(),
});

export const poolList = z.object({ pools: z.array(poolStatus) });

export const MAX_PAUSE_REASON = 500;

/** POST /pools/{name}/pause and /resume: an optional reason, kept with the pause and in the audit event. */
export const pauseBody = z
  .object({ reason: z.string().min(1).max(MAX_PAUSE_REASON).optional().describe('Why, for whoever looks at the pool next.') })
  .strict();

/** GET /pools/{name}/history: how far back. */
export const historyQuery = z
  .object({ minutes: z.coerce.number().int().min(5).max(360).default(60).describe('The window, ending now: 5 to 360 minutes (default 60).') })
  .strict();

export const poolHistory = z.object({
  pool: z.string(),
  from: z.iso.datetime(),
  to: z.iso.datetime(),
  stepSeconds: z.number().int().describe('Seconds between points (at most 120 points per window, 15 s at least).'),
  points: z.array(
    z.object({
      at: z.iso.datetime(),
      waiting: z.number().int().nullable().describe('Visible messages in the pool\'s queues (every priority class); null where no worker reported them.'),
      donePerSecond: z.number().nullable().describe('Jobs finished (success or failed) per second over the minute before `at`; null where no worker reported.'),
    }),
  ).describe('Oldest first; only the times Prometheus has samples for (none before the first scrape).'),
});

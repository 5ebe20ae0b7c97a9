import { z } from 'zod';
import { awsEnv, commonEnv, databaseEnv, env } from '@conveyor/platform';
import { topologyEnv } from '@conveyor/jobs';
import { parseReceiveWeights } from './receive-order.js';

export const configSchema = z
  .object({
    ...commonEnv,
    ...databaseEnv,
    ...awsEnv,
    ...topologyEnv,
    /** /healthz, /readyz and /metrics (this service takes no other HTTP traffic). */
    OPS_PORT: env.port(9083),
    /** Which pool's queue this worker drains, when runWorker is not given one (its queue: conveyor-<pool>). */
    WORKER_POOL: z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'lowercase letters, digits and dashes, at most 40').optional(),
    /** The pool queue's visibility timeout (a WorkerPool's visibilityTimeoutSeconds), when runWorker is not given one. */
    WORKER_VISIBILITY_TIMEOUT_SECONDS: z.coerce.number().int().min(10).max(43_200).optional(),
    /** Most handlers running at once in this process. */
    WORKER_CONCURRENCY: env.int(16, 1),
    /** Delayed jobs received ahead of their run time and held for it (no handler slot); 0 never holds. */
    WORKER_MAX_HELD_MESSAGES: env.int(1_000, 0),
    RECEIVE_WAIT_SECONDS: z.coerce.number().int().min(0).max(20).default(20),
    /**
     * Share of receives each priority class leads when all have work (receive-order.ts), as
     * `high=7,normal=2,low=1`: every class at least 1, so none starves.
     */
    RECEIVE_WEIGHTS: z
      .string()
      .default('high=7,normal=2,low=1')
      .transform((text, ctx) => {
        try {
          return parseReceiveWeights(text);
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: (error as Error).message });
          return z.NEVER;
        }
      }),
    RESULT_INLINE_MAX_BYTES: env.int(65_536, 0),
    S3_BUCKET: z.string().min(3).max(63).default('conveyor-results'),
    HEARTBEAT_INTERVAL_MS: env.int(10_000, 100),
    /** A processing job whose heartbeat is older than this is presumed abandoned and may be claimed again. */
    LEASE_SECONDS: env.int(60, 1),
    RETRY_BACKOFF_BASE_SECONDS: env.int(2, 1),
    /** Longest wait before a retry; the scheduler sends it when due, so any length works: a day bounds a typo. */
    RETRY_BACKOFF_MAX_SECONDS: env.int(300, 1).refine((v) => v <= 86_400, 'at most 86400 (a day)'),
    /** How often the worker re-reads whether its pool is paused, in case it missed the notification. */
    POOL_PAUSE_REFRESH_MS: env.int(5_000, 100),
    /** How long SIGTERM waits for running handlers; unset = SHUTDOWN_GRACE_MS minus 3 s for releasing the rest. */
    WORKER_DRAIN_MS: z.coerce.number().int().min(0).optional(),
  })
  .refine((c) => c.LEASE_SECONDS * 1000 > c.HEARTBEAT_INTERVAL_MS * 2, {
    message: 'must be more than twice HEARTBEAT_INTERVAL_MS, or live jobs would be taken over',
    path: ['LEASE_SECONDS'],
  })
  .refine((c) => c.RETRY_BACKOFF_BASE_SECONDS <= c.RETRY_BACKOFF_MAX_SECONDS, {
    message: 'must not exceed RETRY_BACKOFF_MAX_SECONDS',
    path: ['RETRY_BACKOFF_BASE_SECONDS'],
  })
  .refine((c) => c.WORKER_DRAIN_MS === undefined || c.WORKER_DRAIN_MS < c.SHUTDOWN_GRACE_MS, {
    message: 'must be below SHUTDOWN_GRACE_MS, to leave time to return unfinished messages',
    path: ['WORKER_DRAIN_MS'],
  })
  .transform((c) => ({ ...c, WORKER_DRAIN_MS: c.WORKER_DRAIN_MS ?? Math.max(0, c.SHUTDOWN_GRACE_MS - 3_000) }));

export type Config = z.infer<typeof configSchema>;

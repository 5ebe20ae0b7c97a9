import { z } from 'zod';
import { commonEnv, databaseEnv, env, kafkaEnv } from '@conveyor/platform';
import { topologyEnv } from '@conveyor/jobs';

export const configSchema = z.object({
  ...commonEnv,
  ...databaseEnv,
  ...kafkaEnv,
  ...topologyEnv,
  OUTBOX_BATCH_SIZE: env.int(500, 1),
  OUTBOX_POLL_INTERVAL_MS: env.int(1000, 50),
  PORT: env.port(8084),
  /** Most due jobs moved to `queued` per statement; a full batch is followed at once by the next. */
  DISPATCH_BATCH_SIZE: env.int(500, 1),
  /**
   * Delayed jobs are dispatched this long before their run_at, so Kafka, SNS and SQS are crossed
   * before it and a worker holds the message until the run time (its claim never starts a job
   * early). 0 dispatches at run_at. Keep it well under the pools' visibility timeouts: workers hold
   * a message for at most half of one.
   */
  DISPATCH_LEAD_MS: z.coerce.number().int().min(0).max(10_000).default(2_000),
  /** Re-checks for due jobs even without a notification (a missed NOTIFY, a rolled-back claim). */
  DISPATCH_SAFETY_INTERVAL_MS: env.int(5_000, 100),
  /** Where JobSchedule documents come from: the Kubernetes API, a folder of YAML, or nowhere. */
  SCHEDULES_SOURCE: z.enum(['folder', 'kubernetes', 'none']).default('none'),
  SCHEDULES_DIR: z.string().min(1).default('examples/schedules'),
  /** Tenant of a schedule's jobs unless its label or annotation `conveyor.dev/tenant` says otherwise. */
  SCHEDULES_TENANT: z.string().min(1).default('system'),
  /** Kubernetes namespace to watch; empty watches every namespace. */
  SCHEDULES_WATCH_NAMESPACE: z.string().default(''),
  /** Names this replica in Kubernetes Events (the pod name). */
  HOSTNAME: z.string().min(1).default('scheduler'),
  RECONCILE_INTERVAL_MS: env.int(15_000, 100),
  RECONCILE_BATCH_SIZE: env.int(200, 1),
  /** A `processing` job whose heartbeat is older than this lost its worker. */
  RECONCILE_PROCESSING_LEASE_SECONDS: env.int(120, 1),
  /** A published `queued`/`retrying` job untouched for this long has probably lost its message. */
  QUEUED_REDRIVE_AFTER_SECONDS: env.int(300, 1),
});

export type Config = z.infer<typeof configSchema>;

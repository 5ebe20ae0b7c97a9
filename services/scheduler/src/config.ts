import { z } from 'zod';
import { awsEnv, commonEnv, databaseEnv, env, kafkaEnv } from '@conveyor/platform';
import { topologyEnv } from '@conveyor/jobs';
import { retentionDuration, retentionOverrides } from './retention/policy.js';

export const configSchema = z
  .object({
    ...commonEnv,
    ...databaseEnv,
    ...kafkaEnv,
    ...awsEnv,
    ...topologyEnv,
    OUTBOX_BATCH_SIZE: env.int(500, 1),
    OUTBOX_POLL_INTERVAL_MS: env.int(1000, 50),
    /** /healthz, /readyz and /metrics (this service takes no other HTTP traffic). */
    OPS_PORT: env.port(9084),
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
    /**
     * Where JobSchedules come from: the Kubernetes API, the `schedules` table (written by the api's
     * /schedules outside Kubernetes), a folder of YAML, or nowhere.
     */
    SCHEDULES_SOURCE: z.enum(['postgres', 'folder', 'kubernetes', 'none']).default('none'),
    /** The Postgres source re-reads the table this often besides on every change notification. */
    SCHEDULES_RESYNC_MS: env.int(30_000, 100),
    SCHEDULES_DIR: z.string().min(1).default('examples/schedules'),
    /** Tenant of a schedule's jobs unless its label or annotation `conveyor.dev/tenant` says otherwise. */
    SCHEDULES_TENANT: z.string().min(1).default('system'),
    /**
     * Whether the leader reconciles JobType (and WorkerPool) resources from the Kubernetes API.
     * Defaults to `kubernetes` with SCHEDULES_SOURCE=kubernetes, else `none`.
     */
    OPERATOR_RESOURCES: z.enum(['kubernetes', 'none']).optional(),
    /** Tenants named in the per-tenant metrics (the most loaded, those at a limit first); the rest are summed as `other`. */
    TENANT_METRICS_TOP_N: env.int(20, 1),
    /** How often the operator re-reads each WorkerPool's Deployment and ScaledObject, and each TenantQuota's usage, for their status. */
    OPERATOR_RESYNC_MS: env.int(30_000, 100),
    /** KEDA TriggerAuthentication (in the WorkerPool's namespace) of each pool's SQS trigger; empty: KEDA's own identity. */
    WORKER_POOL_TRIGGER_AUTHENTICATION: z.string().default(''),
    /**
     * The api's ops port as KEDA reaches it, for WorkerPools with spec.drainScaling (a metrics-api
     * trigger on GET /scaling/pools/{name}); empty: every WorkerPool scales on queue depth alone.
     */
    WORKER_POOL_SCALING_URL: z.string().default(''),
    /** Failed reads of a trigger in a row before KEDA falls back (the ScaledObject's fallback.failureThreshold). */
    WORKER_POOL_SCALING_FAILURE_THRESHOLD: env.int(3, 0),
    /** Kubernetes namespace to watch (JobSchedules, JobTypes, WorkerPools); empty watches every namespace. */
    SCHEDULES_WATCH_NAMESPACE: z.string().default(''),
    /** Names this replica in Kubernetes Events (the pod name). */
    HOSTNAME: z.string().min(1).default('scheduler'),
    RECONCILE_INTERVAL_MS: env.int(15_000, 100),
    RECONCILE_BATCH_SIZE: env.int(200, 1),
    /** A `processing` job whose heartbeat is older than this lost its worker. */
    RECONCILE_PROCESSING_LEASE_SECONDS: env.int(120, 1),
    /**
     * A waiting job is re-sent only when its queue is short of messages and a scan of the queue did
     * not find its message, and only once it was handed to SNS and left untouched this long. Keep it
     * above the longest time a worker may hold a waiting job's message out of sight without touching
     * the job (the pools' visibility timeouts). Also the least time between two scans of one queue.
     */
    QUEUED_REDRIVE_AFTER_SECONDS: env.int(300, 1),
    /**
     * How replicas elect the one that fires cron schedules and reconciles: a coordination.k8s.io
     * Lease, or a Postgres advisory lock held on a dedicated connection. Defaults to `lease` with
     * SCHEDULES_SOURCE=kubernetes, else `advisory-lock`.
     */
    LEADER_ELECTION: z.enum(['lease', 'advisory-lock']).optional(),
    /** How long finished jobs (with their events, notifications and result objects) are kept: 30d, 12h, forever. */
    RETENTION_FINISHED_JOBS: retentionDuration.prefault('30d'),
    /** Per tenant and/or job type: [{"tenant":"acme","type":"report.generate","finishedJobs":"90d"}]. */
    RETENTION_OVERRIDES: retentionOverrides,
    /** After this long a submit with the same Idempotency-Key makes a new job. */
    RETENTION_IDEMPOTENCY_KEYS: retentionDuration.prefault('24h'),
    /** Notifications, read or not, of jobs still kept. */
    RETENTION_NOTIFICATIONS: retentionDuration.prefault('30d'),
    RETENTION_INTERVAL_MS: env.int(300_000, 100),
    RETENTION_BATCH_SIZE: env.int(1_000, 1),
    /** Bucket of large results, whose objects go with their jobs. */
    S3_BUCKET: z.string().min(3).max(63).default('conveyor-results'),
    /** The Lease's name (and the advisory lock's, hashed to its key). */
    LEADER_ELECTION_LEASE_NAME: z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, 'a Kubernetes object name').default('conveyor-scheduler'),
    /** The Lease's namespace; empty means SCHEDULES_WATCH_NAMESPACE, or `default`. */
    LEADER_ELECTION_NAMESPACE: z.string().default(''),
    /** How long a Lease holds without renewal before a standby may take it (client-go's LeaseDuration). */
    LEADER_ELECTION_LEASE_DURATION_SECONDS: env.int(15, 1),
    /**
     * The leader stops acting when it could not renew for this long (Lease), or when its lock
     * connection does not answer a check within it (advisory lock).
     */
    LEADER_ELECTION_RENEW_DEADLINE_SECONDS: z.coerce.number().positive().default(10),
    /** How often the leader renews and a standby tries to take over. */
    LEADER_ELECTION_RETRY_PERIOD_SECONDS: z.coerce.number().positive().default(2),
  })
  .refine((c) => c.LEADER_ELECTION_RENEW_DEADLINE_SECONDS < c.LEADER_ELECTION_LEASE_DURATION_SECONDS, {
    message: 'must be shorter than LEADER_ELECTION_LEASE_DURATION_SECONDS, so a leader stops before others may take over',
    path: ['LEADER_ELECTION_RENEW_DEADLINE_SECONDS'],
  })
  .refine((c) => c.LEADER_ELECTION_RETRY_PERIOD_SECONDS < c.LEADER_ELECTION_RENEW_DEADLINE_SECONDS, {
    message: 'must be shorter than LEADER_ELECTION_RENEW_DEADLINE_SECONDS, so a leader tries to renew before its deadline',
    path: ['LEADER_ELECTION_RETRY_PERIOD_SECONDS'],
  });

export type Config = z.infer<typeof configSchema>;

import { z } from 'zod';
import { checkOpsPortApart, awsEnv, commonEnv, databaseEnv, env, kafkaEnv } from '@conveyor/platform';
import { DEFAULT_OVERFLOW_AFTER, topologyEnv } from '@conveyor/jobs';
import { LABEL_MATCHERS } from './pools/history.js';
import { targetPolicy } from './webhooks/target.js';

/** The gateway uses the same well-known value outside production (scripts/dev.env). */
const DEV_INTERNAL_TOKEN = 'dev-internal-token';
const DEV_WEBHOOK_SECRETS_KEY = 'dev-webhook-secrets-key-not-for-production';

/** A comma-separated list, empty when unset. */
const optionalList = () =>
  z
    .string()
    .optional()
    .transform((v) => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean));

export const configSchema = z
  .object({
    ...commonEnv,
    ...databaseEnv,
    ...kafkaEnv,
    ...awsEnv,
    ...topologyEnv,
    PORT: env.port(8081),
    /** /healthz, /readyz and /metrics: never exposed by the Ingress or the public routes. */
    OPS_PORT: env.port(9081),
    /** Bucket of large job results (contract 7); GET /jobs/{id}/result redirects to a signed URL into it. */
    S3_BUCKET: z.string().min(3).max(63).default('conveyor-results'),
    RESULT_URL_TTL_SECONDS: env.int(300, 10),
    /**
     * The S3 endpoint clients reach, when it is not AWS_ENDPOINT_URL (an emulator inside a cluster):
     * result URLs are signed for it. The chart sets the kind ingress host.
     */
    S3_PUBLIC_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
    /** The Prometheus that scrapes the workers: GET /pools/{name}/history reads a pool's past from it (503 without). */
    PROMETHEUS_URL: z.url({ protocol: /^https?$/ }).optional(),
    /** Label matchers added to those queries when one Prometheus scrapes several installations, e.g. `conveyor_instance="dev"`. */
    PROMETHEUS_SELECTOR: z.string().regex(LABEL_MATCHERS, 'comma-separated Prometheus label matchers, e.g. conveyor_instance="dev"').optional(),
    /** Most points one reservation may grant (422 above it). */
    POINTS_MAX_GRANT: z.coerce.number().int().min(1).max(1_000_000_000).default(10_000),
    /** How far in the past a runAt / executeAt may be (it then runs at once); 422 beyond. */
    RUN_AT_MAX_DAYS_BEHIND: env.int(1, 0),
    /** How far in the future a runAt / executeAt may be; 422 beyond. */
    RUN_AT_MAX_DAYS_AHEAD: env.int(365, 1),
    /** Shared secret the gateway sends; requests without it never reach a handler. */
    INTERNAL_TOKEN: z.string().min(16).optional(),
    BODY_LIMIT_BYTES: env.int(1024 * 1024, 1),
    OUTBOX_BATCH_SIZE: env.int(500, 1),
    OUTBOX_POLL_INTERVAL_MS: env.int(1000, 50),
    /** Full reload of the job type registry: the fallback for a change notification lost while disconnected. */
    JOB_TYPES_REFRESH_MS: env.int(30_000, 100),
    /**
     * Encrypts each tenant's webhook signing secrets at rest (AES-256-GCM, key derived by HKDF).
     * Changing it makes the stored secrets unreadable: tenants must then rotate.
     */
    WEBHOOK_SECRETS_KEY: z.string().min(16).optional(),
    /** Deprecated name of WEBHOOK_SECRETS_KEY (it used to be the one signing secret of every tenant); read when that is unset. */
    WEBHOOK_SECRET: z.string().min(16).optional(),
    WEBHOOK_TIMEOUT_MS: env.int(10_000, 100),
    WEBHOOK_MAX_ATTEMPTS: env.int(8, 1),
    /** Webhook requests one api process keeps open at once. */
    WEBHOOK_MAX_IN_FLIGHT: env.int(200, 1),
    /**
     * Webhooks go to public addresses only. These let named hosts (any address they resolve to) and
     * ranges through, e.g. WEBHOOK_ALLOWED_HOSTS=receiver.internal, WEBHOOK_ALLOWED_CIDRS=10.20.0.0/16.
     */
    WEBHOOK_ALLOWED_HOSTS: optionalList(),
    WEBHOOK_ALLOWED_CIDRS: optionalList(),
    /** Removed: name what is allowed with WEBHOOK_ALLOWED_HOSTS / WEBHOOK_ALLOWED_CIDRS instead. */
    WEBHOOK_ALLOW_PRIVATE_NETWORKS: z.string().optional(),
    /** Base of resultUrl in webhook bodies, e.g. https://conveyor.example.com. */
    PUBLIC_BASE_URL: z.url().optional(),
    SSE_MAX_STREAMS_PER_TENANT: env.int(20, 1),
    SSE_MAX_STREAMS: env.int(2_000, 1),
    SSE_HEARTBEAT_MS: env.int(15_000, 1_000),
    SSE_SAFETY_POLL_MS: env.int(5_000, 100),
    /** Submits held open at once by Prefer: wait; past it a submit is answered 202 at once. */
    PREFER_WAIT_MAX_WAITERS: env.int(1_000, 0),
    /**
     * A tenant's jobs waiting in a pool past which its further jobs go to the pool's overflow lane
     * (docs/design.md, "Fairness between tenants").
     */
    TENANT_OVERFLOW_AFTER: env.int(DEFAULT_OVERFLOW_AFTER, 1),
    /** How long the jobs.events consumer lets the broker gather events per fetch (notices and webhooks wait up to this). */
    EVENTS_FETCH_WAIT_MS: z.coerce.number().int().min(10).max(5_000).default(200),
    /**
     * The scheduler's setting, read here too so one value decides both: with `kubernetes` /schedules
     * keeps JobSchedules as custom resources in SCHEDULES_NAMESPACE (the scheduler's watch stays
     * their one reader); with any other the `schedules` table, which the scheduler fires with `postgres`.
     */
    SCHEDULES_SOURCE: z.enum(['postgres', 'kubernetes', 'folder', 'none']).default('postgres'),
    SCHEDULES_NAMESPACE: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'a Kubernetes namespace name').default('default'),
    /** Tenant of a custom resource without the `conveyor.dev/tenant` label or annotation, as the scheduler's SCHEDULES_TENANT. */
    SCHEDULES_TENANT: z.string().min(1).default('system'),
  })
  .superRefine((c, ctx) => {
    checkOpsPortApart(c, ctx);
    if (c.NODE_ENV === 'production' && !c.INTERNAL_TOKEN) {
      ctx.addIssue({ code: 'custom', path: ['INTERNAL_TOKEN'], message: 'required in production' });
    }
    if (c.NODE_ENV === 'production' && !c.WEBHOOK_SECRETS_KEY && !c.WEBHOOK_SECRET) {
      ctx.addIssue({ code: 'custom', path: ['WEBHOOK_SECRETS_KEY'], message: 'required in production' });
    }
    if (c.WEBHOOK_ALLOW_PRIVATE_NETWORKS !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['WEBHOOK_ALLOW_PRIVATE_NETWORKS'],
        message: 'no longer read: allow named hosts or ranges with WEBHOOK_ALLOWED_HOSTS / WEBHOOK_ALLOWED_CIDRS',
      });
    }
    try {
      targetPolicy(c.WEBHOOK_ALLOWED_HOSTS, []);
    } catch (error) {
      ctx.addIssue({ code: 'custom', path: ['WEBHOOK_ALLOWED_HOSTS'], message: (error as Error).message });
    }
    try {
      targetPolicy([], c.WEBHOOK_ALLOWED_CIDRS);
    } catch (error) {
      ctx.addIssue({ code: 'custom', path: ['WEBHOOK_ALLOWED_CIDRS'], message: (error as Error).message });
    }
  })
  .transform(({ WEBHOOK_SECRET, WEBHOOK_ALLOW_PRIVATE_NETWORKS: _removed, ...c }) => ({
    ...c,
    INTERNAL_TOKEN: c.INTERNAL_TOKEN ?? DEV_INTERNAL_TOKEN,
    WEBHOOK_SECRETS_KEY: c.WEBHOOK_SECRETS_KEY ?? WEBHOOK_SECRET ?? DEV_WEBHOOK_SECRETS_KEY,
  }));

export type Config = z.infer<typeof configSchema>;

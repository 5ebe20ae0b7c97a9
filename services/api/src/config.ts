import { z } from 'zod';
import { awsEnv, commonEnv, databaseEnv, env, kafkaEnv } from '@conveyor/platform';
import { topologyEnv } from '@conveyor/jobs';

/** The gateway uses the same well-known value outside production (scripts/dev.env). */
const DEV_INTERNAL_TOKEN = 'dev-internal-token';
const DEV_WEBHOOK_SECRET = 'dev-webhook-secret-not-for-production';

export const configSchema = z
  .object({
    ...commonEnv,
    ...databaseEnv,
    ...kafkaEnv,
    ...awsEnv,
    ...topologyEnv,
    PORT: env.port(8081),
    /** Bucket of large job results (contract 7); GET /jobs/{id}/result redirects to a signed URL into it. */
    S3_BUCKET: z.string().min(3).max(63).default('conveyor-results'),
    RESULT_URL_TTL_SECONDS: env.int(300, 10),
    /** Shared secret the gateway sends; requests without it never reach a handler. */
    INTERNAL_TOKEN: z.string().min(16).optional(),
    BODY_LIMIT_BYTES: env.int(1024 * 1024, 1),
    OUTBOX_BATCH_SIZE: env.int(500, 1),
    OUTBOX_POLL_INTERVAL_MS: env.int(1000, 50),
    /** Signs webhook bodies (HMAC-SHA256); receivers verify with the same secret. */
    WEBHOOK_SECRET: z.string().min(16).optional(),
    WEBHOOK_TIMEOUT_MS: env.int(10_000, 100),
    WEBHOOK_MAX_ATTEMPTS: env.int(8, 1),
    WEBHOOK_MAX_PENDING: env.int(1_000, 1),
    /** Webhooks to loopback/private/link-local addresses; defaults to allowed outside production only. */
    WEBHOOK_ALLOW_PRIVATE_NETWORKS: env.optionalBool(),
    /** Base of resultUrl in webhook bodies, e.g. https://conveyor.example.com. */
    PUBLIC_BASE_URL: z.url().optional(),
    SSE_MAX_STREAMS_PER_TENANT: env.int(20, 1),
    SSE_MAX_STREAMS: env.int(2_000, 1),
    SSE_HEARTBEAT_MS: env.int(15_000, 1_000),
    SSE_SAFETY_POLL_MS: env.int(5_000, 100),
    /** How long the jobs.events consumer lets the broker gather events per fetch (notices and webhooks wait up to this). */
    EVENTS_FETCH_WAIT_MS: z.coerce.number().int().min(10).max(5_000).default(200),
  })
  .superRefine((c, ctx) => {
    if (c.NODE_ENV === 'production' && !c.INTERNAL_TOKEN) {
      ctx.addIssue({ code: 'custom', path: ['INTERNAL_TOKEN'], message: 'required in production' });
    }
    if (c.NODE_ENV === 'production' && !c.WEBHOOK_SECRET) {
      ctx.addIssue({ code: 'custom', path: ['WEBHOOK_SECRET'], message: 'required in production' });
    }
  })
  .transform((c) => ({
    ...c,
    INTERNAL_TOKEN: c.INTERNAL_TOKEN ?? DEV_INTERNAL_TOKEN,
    WEBHOOK_SECRET: c.WEBHOOK_SECRET ?? DEV_WEBHOOK_SECRET,
    WEBHOOK_ALLOW_PRIVATE_NETWORKS: c.WEBHOOK_ALLOW_PRIVATE_NETWORKS ?? c.NODE_ENV !== 'production',
  }));

export type Config = z.infer<typeof configSchema>;

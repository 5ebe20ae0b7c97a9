import { z } from 'zod';
import { commonEnv, env } from '@conveyor/platform';

const DEV_INTERNAL_TOKEN = 'dev-internal-token';

export const configSchema = z
  .object({
    ...commonEnv,
    PORT: env.port(8080),
    /** Where the api service listens; the gateway is its only public entry. */
    API_URL: z.url(),
    /** Shared secret the api requires, so requests that bypass the gateway are refused. */
    API_INTERNAL_TOKEN: z.string().min(16).optional(),
    API_CONNECTIONS: env.int(64, 1),
    JWT_ISSUER: z.string().min(1).default('conveyor-gateway'),
    JWT_AUDIENCE: z.string().min(1).default('conveyor'),
    JWT_TTL_SECONDS: env.int(900, 30),
    /** Claim that carries the tenant (Cognito, for example, uses `custom:tenant`). */
    JWT_TENANT_CLAIM: z.string().min(1).default('tenant'),
    /** Production key set (RS256/ES256), fetched, cached and rotated by jose. */
    JWKS_URL: z.url().optional(),
    /** PKCS#8 PEM of the ES256 key dev tokens are signed with; generated at start when unset. */
    JWT_DEV_SIGNING_KEY: z.string().includes('PRIVATE KEY').optional(),
    /** Defaults to on outside production and must stay off in production. */
    DEV_USERS_ENABLED: env.optionalBool(),
    CORS_ORIGINS: z
      .string()
      .default('')
      .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
      .pipe(z.array(z.url())),
    BODY_LIMIT_BYTES: env.int(1024 * 1024, 1),
    MAX_HEADER_BYTES: env.int(16 * 1024, 1024),
    /** Requests one principal may make within any one second. */
    RATE_LIMIT_BURST: env.int(50, 1),
    /** Requests one principal may make per minute. */
    RATE_LIMIT_SUSTAINED_PER_MINUTE: env.int(600, 1),
    /** Shared store for rate limits across replicas; in-memory (per replica) when unset. */
    REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').optional(),
  })
  .superRefine((c, ctx) => {
    if (c.NODE_ENV !== 'production') return;
    if (c.DEV_USERS_ENABLED === true) {
      ctx.addIssue({ code: 'custom', path: ['DEV_USERS_ENABLED'], message: 'dev users must not be enabled in production' });
    }
    if (!c.JWKS_URL) ctx.addIssue({ code: 'custom', path: ['JWKS_URL'], message: 'required in production' });
    if (!c.API_INTERNAL_TOKEN) ctx.addIssue({ code: 'custom', path: ['API_INTERNAL_TOKEN'], message: 'required in production' });
    if (c.JWT_DEV_SIGNING_KEY) {
      ctx.addIssue({ code: 'custom', path: ['JWT_DEV_SIGNING_KEY'], message: 'must not be set in production' });
    }
  })
  .transform((c) => {
    const production = c.NODE_ENV === 'production';
    return {
      ...c,
      DEV_USERS_ENABLED: c.DEV_USERS_ENABLED ?? !production,
      // Only outside production, where the api uses the same well-known dev value.
      API_INTERNAL_TOKEN: c.API_INTERNAL_TOKEN ?? DEV_INTERNAL_TOKEN,
    };
  });

export type Config = z.infer<typeof configSchema>;

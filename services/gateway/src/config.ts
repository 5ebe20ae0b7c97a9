import proxyaddr from 'proxy-addr';
import { z } from 'zod';
import { checkOpsPortApart, commonEnv, env } from '@conveyor/platform';

const DEV_INTERNAL_TOKEN = 'dev-internal-token';

export const configSchema = z
  .object({
    ...commonEnv,
    PORT: env.port(8080),
    /** /healthz, /readyz and /metrics: never exposed by the Ingress or the public routes. */
    OPS_PORT: env.port(9080),
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
    /**
     * Without JWT_DEV_SIGNING_KEY: where the generated dev key is kept (created once, mode 0600), so
     * tokens outlive a restart. scripts/dev.env points it into .run/.
     */
    JWT_DEV_SIGNING_KEY_FILE: z.string().min(1).optional(),
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
    /**
     * Proxies whose X-Forwarded-For is believed (express `trust proxy` syntax: addresses, CIDRs,
     * `loopback`, `linklocal`, `uniquelocal`), comma separated. Empty: the socket's address is the client.
     */
    TRUSTED_PROXIES: z
      .string()
      .default('')
      .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
      .refine((list) => {
        try {
          proxyaddr.compile(list);
          return true;
        } catch {
          return false;
        }
      }, 'must list IP addresses, CIDR ranges or loopback / linklocal / uniquelocal'),
    /** Consecutive failed logins of one account before it is locked out. */
    LOGIN_MAX_FAILURES: env.int(5, 1),
    /** The first lockout; each further failure after it doubles the lockout, up to LOGIN_LOCK_MAX_SECONDS. */
    LOGIN_LOCK_SECONDS: env.int(30, 1),
    LOGIN_LOCK_MAX_SECONDS: env.int(900, 1),
    /** The built console served at /console; default: console/dist beside this service. */
    CONSOLE_DIR: z.string().min(1).optional(),
    /**
     * Where the console links a job's trace id: a URL with `{traceId}` in it, e.g. Zipkin's
     * `http://127.0.0.1:19411/zipkin/traces/{traceId}` or Jaeger's `.../trace/{traceId}`. Unset: no link.
     */
    CONSOLE_TRACE_URL: z
      .url({ protocol: /^https?$/ })
      .refine((v) => v.includes('{traceId}'), 'must contain {traceId}')
      .optional(),
  })
  .superRefine((c, ctx) => {
    checkOpsPortApart(c, ctx);
    if (c.LOGIN_LOCK_MAX_SECONDS < c.LOGIN_LOCK_SECONDS) {
      ctx.addIssue({ code: 'custom', path: ['LOGIN_LOCK_MAX_SECONDS'], message: `must be at least LOGIN_LOCK_SECONDS (${c.LOGIN_LOCK_SECONDS})` });
    }
    if (c.NODE_ENV !== 'production') return;
    if (c.DEV_USERS_ENABLED === true) {
      ctx.addIssue({ code: 'custom', path: ['DEV_USERS_ENABLED'], message: 'dev users must not be enabled in production' });
    }
    if (!c.JWKS_URL) ctx.addIssue({ code: 'custom', path: ['JWKS_URL'], message: 'required in production' });
    if (!c.API_INTERNAL_TOKEN) ctx.addIssue({ code: 'custom', path: ['API_INTERNAL_TOKEN'], message: 'required in production' });
    for (const name of ['JWT_DEV_SIGNING_KEY', 'JWT_DEV_SIGNING_KEY_FILE'] as const) {
      if (c[name]) ctx.addIssue({ code: 'custom', path: [name], message: 'must not be set in production' });
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

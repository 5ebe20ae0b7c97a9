import cors from 'cors';
import helmet from 'helmet';
import { Redis } from 'ioredis';
import proxyaddr from 'proxy-addr';
import { fileURLToPath } from 'node:url';
import { Counter, bootstrap, runMain } from '@conveyor/platform';
import { createApiProxy } from './api.proxy.js';
import { loadOrCreateDevKeyFile } from './auth/dev-key-file.js';
import { createLoginGuard } from './auth/login-guard.js';
import { createTokenService } from './auth/tokens.js';
import { DEV_USERS, createUserStore } from './auth/users.js';
import { configSchema } from './config.js';
import { createConsoleHandler } from './console/serve.js';
import { loadSite } from './console/site.js';
import { createGatewayHandler, type Middleware } from './gateway.js';
import { createRateLimiter } from './rate-limit.js';
import { createRouter } from './routes.js';

runMain('gateway', async () => {
  const { config, logger, metrics, service } = bootstrap('gateway', configSchema);

  const redis = config.REDIS_URL
    ? new Redis(config.REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true })
    : undefined;
  if (redis) {
    redis.on('error', (err: Error) => logger.warn({ err: { message: err.message } }, 'redis error'));
    await redis.connect().catch((err: Error) => logger.warn({ err: { message: err.message } }, 'redis not reachable at start'));
  }

  const tokens = await createTokenService({
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
    ttlSeconds: config.JWT_TTL_SECONDS,
    tenantClaim: config.JWT_TENANT_CLAIM,
    jwksUrl: config.JWKS_URL,
    devSigningKey:
      config.JWT_DEV_SIGNING_KEY ??
      (config.DEV_USERS_ENABLED && config.JWT_DEV_SIGNING_KEY_FILE ? await loadOrCreateDevKeyFile(config.JWT_DEV_SIGNING_KEY_FILE) : undefined),
    issueTokens: config.DEV_USERS_ENABLED,
  });
  const proxy = createApiProxy({ apiUrl: config.API_URL, internalToken: config.API_INTERNAL_TOKEN, connections: config.API_CONNECTIONS });
  // The console built beside this service (console/dist in the repository and in the image).
  const consoleDir = config.CONSOLE_DIR ?? fileURLToPath(new URL('../../../console/dist', import.meta.url));
  const site = await loadSite(consoleDir);
  if (!site) logger.warn({ dir: consoleDir }, 'the console is not built: /console answers 404 (run `make build`)');
  const allowedOrigins = new Set(config.CORS_ORIGINS.map((o) => new URL(o).origin));
  const trustedProxies = proxyaddr.compile(config.TRUSTED_PROXIES);

  const handler = createGatewayHandler({
    match: createRouter(),
    tokens,
    users: config.DEV_USERS_ENABLED ? await createUserStore(DEV_USERS) : null,
    loginGuard: createLoginGuard({
      maxFailures: config.LOGIN_MAX_FAILURES,
      lockSeconds: config.LOGIN_LOCK_SECONDS,
      maxLockSeconds: config.LOGIN_LOCK_MAX_SECONDS,
      redis,
    }),
    clientAddress: (req) => proxyaddr(req, trustedProxies),
    limiter: createRateLimiter({ burst: config.RATE_LIMIT_BURST, sustainedPerMinute: config.RATE_LIMIT_SUSTAINED_PER_MINUTE, redis }),
    proxy,
    logger,
    metrics: {
      httpDuration: metrics.httpDuration,
      rateLimited: new Counter({
        name: 'conveyor_gateway_rate_limited_total',
        help: 'Requests refused with 429 by the rate limiter, by route template.',
        labelNames: ['route'] as const,
        registers: [metrics.registry],
      }),
    },
    securityHeaders: helmet({
      contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
      strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: true },
      xFrameOptions: { action: 'deny' },
    }) as Middleware,
    cors: cors({
      origin: (origin, callback) => callback(null, origin !== undefined && allowedOrigins.has(origin)),
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'X-Request-ID', 'Last-Event-ID', 'traceparent', 'tracestate'],
      exposedHeaders: ['Location', 'Retry-After', 'X-Request-ID', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'RateLimit-Policy'],
      maxAge: 600,
      optionsSuccessStatus: 204,
    }) as Middleware,
    isAllowedOrigin: (origin) => allowedOrigins.has(origin),
    bodyLimit: config.BODY_LIMIT_BYTES,
    maxHeaderBytes: config.MAX_HEADER_BYTES,
    console: createConsoleHandler(site, { traceUrl: config.CONSOLE_TRACE_URL ?? null }),
  });

  service
    .setHandler(handler)
    .addReadinessCheck('api', async () => {
      // The api's traffic port, the one this gateway forwards to (its /healthz is on its ops port).
      const res = await fetch(new URL('/openapi.json', config.API_URL), { method: 'HEAD', signal: AbortSignal.timeout(2000) });
      if (!res.ok) throw new Error(`api answered ${res.status}`);
    })
    .onStop('api pool', () => proxy.close());
  if (redis) {
    service.addReadinessCheck('redis', () => redis.ping()).onStop('redis', () => redis.quit());
  }
  logger.info(
    {
      devUsers: config.DEV_USERS_ENABLED,
      jwks: config.JWKS_URL !== undefined,
      redis: redis !== undefined,
      corsOrigins: [...allowedOrigins],
      trustedProxies: config.TRUSTED_PROXIES,
      console: site ? { dir: consoleDir, files: site.size } : null,
    },
    'gateway configured',
  );
  await service.start();
});

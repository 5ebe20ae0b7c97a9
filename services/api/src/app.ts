import express, { type RequestHandler } from 'express';
import type { S3Client } from '@aws-sdk/client-s3';
import { fetchPoolStats, signResultUrl, type OutboxSignal } from '@conveyor/jobs';
import type { Logger, Pool, ServiceMetrics } from '@conveyor/platform';
import { activeTraceExemplar, nameServerSpan, observeTraced } from '@conveyor/platform';
import { errorHandler, methodNotAllowed, notFound } from './http-errors.js';
import { requireIdentity } from './identity.js';
import { JobInserter } from './job-inserter.js';
import { jobsSubmittedCounter } from './metrics.js';
import { buildOpenApiDocument } from './openapi.js';
import { PoolStatsCache } from './pool-stats.js';
import { checkRequestText, jsonBody, requestContext } from './request.js';
import { batchRoutes } from './batch/routes.js';
import { flowRoutes } from './flows/routes.js';
import { dlqRoutes, type DeadLetterQueues } from './dlq/routes.js';
import type { PoolHistorySource } from './pools/history.js';
import { poolRoutes } from './pools/routes.js';
import { quotaRoutes } from './quotas/routes.js';
import { pauseRoutes } from './pauses/routes.js';
import { retryRoutes } from './retry/routes.js';
import { searchRoutes } from './search/routes.js';
import type { RunAtWindow } from './run-at.js';
import { jobRoutes } from './routes/jobs.js';
import { notificationRoutes } from './notifications/routes.js';
import { pointsRoutes } from './routes/points.js';
import { reportRoutes } from './routes/reports.js';
import type { RouteDef } from './routes/route.js';
import { deliveryLogRoutes, webhookRoutes, type DeliveryLogDeps, type TargetPolicy, type WebhookSecrets } from './webhooks/index.js';
import { jobTypeRoutes, type JobTypeRegistry } from './job-types/index.js';
import { postgresScheduleStore } from './schedules/queries.js';
import { scheduleRoutes } from './schedules/routes.js';
import type { ScheduleStore } from './schedules/store.js';
import type { JobWaiter } from './wait/job-waiter.js';

export interface AppDeps {
  pool: Pool;
  /** Announces committed job and job_events rows to the relays and event streams. */
  outbox: OutboxSignal;
  /** Signs result URLs: its endpoint is the one clients reach (S3_PUBLIC_ENDPOINT when set). */
  s3: S3Client;
  bucket: string;
  resultUrlTtlSeconds: number;
  internalToken: string;
  bodyLimitBytes: number;
  /** Bounds of runAt (POST /jobs) and executeAt (POST /points/reservations). */
  runAtWindow: RunAtWindow;
  /** Most points one reservation may grant (POINTS_MAX_GRANT). */
  pointsMaxGrant: number;
  logger: Logger;
  metrics?: ServiceMetrics;
  /**
   * Serves `GET /jobs/:jobId/events` (SSE, built in src/events/). It runs after the identity
   * check: `identityOf(res)` (identity.ts) gives tenant, subject and scopes, `res.locals.requestId`
   * the request id. Without one, the route answers 503.
   */
  eventsHandler?: RequestHandler;
  /** Serves `GET /jobs/events`, every event of the caller's jobs (the same handler's `feed`); 503 without one. */
  feedHandler?: RequestHandler;
  /** Each tenant's webhook signing secrets (GET /webhooks/secret, rotation). */
  webhookSecrets: WebhookSecrets;
  /** Where a callbackUrl may point (WEBHOOK_ALLOWED_HOSTS / _CIDRS); checked at submit. */
  webhookPolicy: TargetPolicy;
  /** The webhook dispatcher's side of GET /jobs/{id}/deliveries and redeliver: its breakers, its wake-up. */
  webhookLog: Omit<DeliveryLogDeps, 'pool' | 'logger'>;
  /** Each pool's DLQ, which POST /dlq/redrive sweeps after requeuing. */
  deadLetters?: DeadLetterQueues;
  /** The registered job types (started: loaded and listening) that POST /jobs validates against. */
  jobTypes: JobTypeRegistry;
  /**
   * Whether a team pool's queue is provisioned (a WorkerPool reconciled, or started by `make
   * start`): PUT /job-types takes such a pool. Without it, only the platform's pools.
   */
  poolQueueExists?: (pool: string) => Promise<boolean>;
  /** Holds submits with `Prefer: wait=N` until their job ends (wait/); without one the preference is ignored. */
  waiter?: JobWaiter;
  /** Where /schedules keeps JobSchedules: the `schedules` table unless given (Kubernetes: the custom resources). */
  schedules?: ScheduleStore;
  /** The Prometheus GET /pools/{name}/history reads from. */
  poolHistory?: PoolHistorySource;
  now?: () => Date;
  /** TENANT_OVERFLOW_AFTER: a tenant's waiting jobs in a pool past which its submits take the overflow lane. */
  overflowAfter?: number;
}

export const EVENTS_PATH = '/jobs/:jobId/events';
export const FEED_PATH = '/jobs/events';

/** Every route the app serves behind the identity check, in one table (the OpenAPI test reads it too). */
export function apiRoutes(deps: AppDeps): RouteDef[] {
  const now = deps.now ?? (() => new Date());
  const stats = new PoolStatsCache((types) => fetchPoolStats(deps.pool, types), 1500, Date.now, (err) =>
    deps.logger.warn({ err }, 'could not refresh pool stats for Retry-After'),
  );
  const body = jsonBody(deps.bodyLimitBytes);
  const shared = {
    pool: deps.pool,
    inserter: new JobInserter(deps.outbox.track(deps.pool), { overflowAfter: deps.overflowAfter }, { pool: deps.pool, track: (db) => deps.outbox.track(db) }),
    outbox: deps.outbox,
    stats,
    now,
    runAtWindow: deps.runAtWindow,
    jsonBody: body,
    submitted: deps.metrics && jobsSubmittedCounter(deps.metrics.registry),
    webhookPolicy: deps.webhookPolicy,
    jobTypes: deps.jobTypes,
    waiter: deps.waiter,
    logger: deps.logger,
    signResultUrl: (key: string) => signResultUrl({ s3: deps.s3, bucket: deps.bucket }, key, deps.resultUrlTtlSeconds),
  };
  const unavailable: RequestHandler = (_req, res) => {
    res.status(503).json({ error: 'event stream not available', requestId: res.locals.requestId });
  };
  const events = deps.eventsHandler ?? unavailable;
  return [
    // First: /jobs/counts and /jobs/events must not be read as /jobs/:jobId.
    ...searchRoutes(shared),
    { method: 'get', path: FEED_PATH, handlers: [deps.feedHandler ?? unavailable] },
    ...jobRoutes(shared),
    ...retryRoutes(shared),
    ...batchRoutes(shared),
    ...flowRoutes(shared),
    ...dlqRoutes({ ...shared, deadLetters: deps.deadLetters, logger: deps.logger }),
    ...poolRoutes({ pool: deps.pool, jsonBody: body, queues: deps.deadLetters, history: deps.poolHistory, jobTypes: deps.jobTypes, logger: deps.logger }),
    ...quotaRoutes({ pool: deps.pool, jsonBody: body, logger: deps.logger }),
    ...pauseRoutes({ pool: deps.pool, jsonBody: body, outbox: deps.outbox, logger: deps.logger }),
    { method: 'get', path: EVENTS_PATH, handlers: [events] },
    ...reportRoutes(shared),
    ...pointsRoutes({ ...shared, maxGrant: deps.pointsMaxGrant }),
    ...notificationRoutes(shared),
    ...webhookRoutes({ secrets: deps.webhookSecrets, jsonBody: body }),
    ...deliveryLogRoutes({ ...deps.webhookLog, pool: deps.pool, logger: deps.logger }),
    ...jobTypeRoutes({ pool: deps.pool, registry: deps.jobTypes, jsonBody: body, poolQueueExists: deps.poolQueueExists }),
    ...scheduleRoutes({ ...shared, store: deps.schedules ?? postgresScheduleStore(deps.pool) }),
  ];
}

/** Records the route template, not the raw path, so metrics and span names stay low-cardinality. */
function timed(metrics: ServiceMetrics | undefined, method: string, template: string): RequestHandler {
  return (_req, res, next) => {
    nameServerSpan(method, template);
    if (metrics) {
      const started = performance.now();
      const traceId = activeTraceExemplar().trace_id;
      res.once('finish', () => {
        const labels = { method: method.toUpperCase(), route: template, status_code: String(res.statusCode) };
        observeTraced(metrics.httpDuration, labels, (performance.now() - started) / 1000, traceId ?? null);
      });
    }
    next();
  };
}

/**
 * Mounts every method route first, then a 405 (with Allow) per path, so that a path served by
 * another template for this method (GET /points/reservations is a balance) still reaches it.
 */
function mount(router: express.Router, routes: RouteDef[], metrics: ServiceMetrics | undefined): void {
  const allowed = new Map<string, Set<string>>();
  for (const def of routes) {
    router[def.method](def.path, timed(metrics, def.method, def.path), ...def.handlers);
    const allow = allowed.get(def.path) ?? new Set<string>();
    allow.add(def.method.toUpperCase());
    if (def.method === 'get') allow.add('HEAD');
    allowed.set(def.path, allow);
  }
  for (const [path, allow] of allowed) router.all(path, methodNotAllowed([...allow].sort()));
}

/**
 * The api's HTTP app. /healthz, /readyz and /metrics are answered by the platform Service before
 * it; /openapi.json is public; every other route requires the gateway's identity headers.
 */
export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(requestContext);
  app.use(checkRequestText);

  const document = JSON.stringify(buildOpenApiDocument());
  const openapi = express.Router();
  mount(openapi, [{ method: 'get', path: '/openapi.json', handlers: [(_req, res) => void res.type('application/json').send(document)] }], deps.metrics);
  app.use(openapi);

  app.use(requireIdentity(deps.internalToken));
  const api = express.Router();
  mount(api, apiRoutes(deps), deps.metrics);
  app.use(api);

  app.use(notFound);
  app.use(errorHandler(deps.logger));
  return app;
}

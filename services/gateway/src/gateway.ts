import type { IncomingMessage, ServerResponse } from 'node:http';
import { isSpanContextValid, trace } from '@opentelemetry/api';
import type { Logger, RequestHandler, ServiceMetrics, Counter } from '@conveyor/platform';
import { nameServerSpan, observeTraced, requestTextProblem, withContext } from '@conveyor/platform';
import { declaredTooLarge, discardBody, BodyTooLargeError, DISCARD_FACTOR } from './body-limit.js';
import { UpstreamError, type ApiProxy } from './api.proxy.js';
import { isConsolePath, type ConsoleHandler } from './console/serve.js';
import { login, readBody, type LoginOutcome } from './auth/login.js';
import type { LoginGuard } from './auth/login-guard.js';
import { InvalidTokenError, type TokenService } from './auth/tokens.js';
import type { UserStore } from './auth/users.js';
import { sendError, sendJson } from './http-reply.js';
import { withGatewayOperations } from './openapi.js';
import { jobCount, type RateLimiter } from './rate-limit.js';
import { requestIdFrom } from './request-id.js';
import type { RouteMatch } from './routes.js';
import { isAllowed, type Principal } from './scopes.js';

/** Connect-style middleware (helmet, cors) run on the raw request. */
export type Middleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

export interface GatewayDeps {
  match: (method: string, path: string) => RouteMatch;
  tokens: TokenService;
  /** Null when dev users are disabled: login then answers 404 like any unknown route. */
  users: UserStore | null;
  loginGuard: LoginGuard;
  /** The client's address: the socket's, or X-Forwarded-For's as far as trusted proxies vouch for it. */
  clientAddress: (req: IncomingMessage) => string;
  limiter: RateLimiter;
  proxy: ApiProxy;
  logger: Logger;
  metrics: { httpDuration: ServiceMetrics['httpDuration']; rateLimited: Counter<'route'> };
  securityHeaders: Middleware;
  cors: Middleware;
  isAllowedOrigin: (origin: string) => boolean;
  bodyLimit: number;
  maxHeaderBytes: number;
  /** The web console's static files under /console (console/serve.ts). */
  console: ConsoleHandler;
}

/** Per-request facts the access log reports once the answer is done. */
interface Exchange {
  requestId: string;
  route: string;
  principal: Principal | null;
}

function headerBytes(req: IncomingMessage): number {
  let total = 0;
  for (const part of req.rawHeaders) total += part.length + 2;
  return total;
}

function traceIdOf(req: IncomingMessage): string | undefined {
  const span = trace.getActiveSpan()?.spanContext();
  if (span && isSpanContextValid(span)) return span.traceId;
  const parent = req.headers.traceparent;
  return typeof parent === 'string' ? /^[\da-f]{2}-([\da-f]{32})-/.exec(parent)?.[1] : undefined;
}

function bearerToken(req: IncomingMessage): string | null {
  const header = req.headers.authorization;
  if (!header) return null;
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i.exec(header);
  return match ? match[1]! : null;
}

const UNAUTHENTICATED = { 'WWW-Authenticate': 'Bearer realm="conveyor"' };

/** application/json and the structured `+json` types (application/vnd.api+json, ...), parameters allowed. */
const JSON_MEDIA_TYPE = /^application\/(?:[\w.!#$&^-]+\+)?json\s*(?:;|$)/i;

export function createGatewayHandler(deps: GatewayDeps): RequestHandler {
  const { logger, metrics } = deps;

  function accessLog(req: IncomingMessage, res: ServerResponse, exchange: Exchange, started: number, traceId: string | undefined) {
    const seconds = (performance.now() - started) / 1000;
    const status = res.writableFinished ? res.statusCode : res.headersSent ? res.statusCode : 499;
    observeTraced(metrics.httpDuration, { method: req.method ?? 'UNKNOWN', route: exchange.route, status_code: String(status) }, seconds, traceId ?? null);
    // Only these fields: never headers (Authorization) and never a body (the login password).
    logger.info(
      {
        method: req.method,
        route: exchange.route,
        status,
        latency_ms: Math.round(seconds * 10_000) / 10,
        request_id: exchange.requestId,
        trace_id: traceId,
        principal: exchange.principal?.subject,
        tenant: exchange.principal?.tenant,
        aborted: !res.writableFinished || undefined,
      },
      'request',
    );
  }

  /** Login outcomes as security events: one structured line each, found by `event`, never with the password. */
  function logSecurityEvent(outcome: LoginOutcome, clientIp: string, requestId: string): void {
    if (outcome.status === 400) return;
    const fields = { account: outcome.account, client_ip: clientIp, request_id: requestId };
    switch (outcome.status) {
      case 200:
        return logger.info({ event: 'login_succeeded', ...fields }, 'login succeeded');
      case 401:
        logger.warn({ event: 'login_failed', ...fields, failures: outcome.failures }, 'login failed');
        if (outcome.lockSeconds !== undefined) {
          logger.warn({ event: 'login_locked', ...fields, failures: outcome.failures, lock_seconds: outcome.lockSeconds }, 'account locked after repeated failed logins');
        }
        return;
      case 429:
        return logger.warn({ event: 'login_refused_locked', ...fields, retry_after_seconds: outcome.retryAfterSeconds }, 'login refused: account locked');
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse, exchange: Exchange): Promise<void> {
    const { requestId } = exchange;
    deps.securityHeaders(req, res, () => undefined);
    if (headerBytes(req) > deps.maxHeaderBytes) {
      return sendError(res, 431, 'request headers too large', requestId, { headers: { Connection: 'close' } });
    }
    const text = requestTextProblem(req);
    if (text) return sendError(res, 400, text.reason, requestId, { details: { where: text.where } });
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').split('?')[0]!;
    const origin = req.headers.origin;

    // Public static files, from memory: no token, no rate limit (cheaper to serve than to count).
    if (isConsolePath(path)) {
      exchange.route = '/console';
      return deps.console(req, res, path, requestId);
    }

    if (method === 'OPTIONS') {
      const found = deps.match('GET', path);
      if (found.kind === 'not-found') return sendError(res, 404, 'not found', requestId);
      exchange.route = found.kind === 'found' ? found.route.template : found.template;
      if (origin !== undefined && req.headers['access-control-request-method'] !== undefined) {
        if (!deps.isAllowedOrigin(origin)) return sendError(res, 403, 'origin not allowed', requestId);
        // cors answers the preflight itself (204 with the Access-Control-Allow-* headers).
        return deps.cors(req, res, () => undefined);
      }
      res.setHeader('Allow', 'DELETE, GET, HEAD, OPTIONS, POST');
      res.statusCode = 204;
      res.end();
      return;
    }
    if (origin !== undefined) deps.cors(req, res, () => undefined);

    const found = deps.match(method, path);
    if (found.kind === 'not-found') return sendError(res, 404, 'not found', requestId);
    if (found.kind === 'method-not-allowed') {
      exchange.route = found.template;
      return sendError(res, 405, 'method not allowed', requestId, { headers: { Allow: found.allow.join(', ') } });
    }
    const { route } = found;
    exchange.route = route.template;
    nameServerSpan(method, route.template);

    if (route.scope !== null) {
      const token = bearerToken(req);
      if (!token) return sendError(res, 401, 'missing bearer token', requestId, { headers: UNAUTHENTICATED });
      try {
        exchange.principal = await deps.tokens.verify(token);
      } catch (error) {
        if (!(error instanceof InvalidTokenError)) throw error;
        logger.debug({ reason: error.message, request_id: requestId }, 'token refused');
        return sendError(res, 401, 'invalid or expired token', requestId, {
          headers: { 'WWW-Authenticate': 'Bearer realm="conveyor", error="invalid_token"' },
        });
      }
      if (!isAllowed(exchange.principal.scopes, route.scope)) {
        return sendError(res, 403, 'insufficient scope', requestId, {
          details: { required: route.scope },
          headers: { 'WWW-Authenticate': `Bearer realm="conveyor", error="insufficient_scope", scope="${route.scope}"` },
        });
      }
    }

    const principal = exchange.principal;
    const key = principal ? `p:${principal.tenant}:${principal.subject}` : `ip:${deps.clientAddress(req)}`;
    const decision = await deps.limiter.check(key);
    for (const [name, value] of Object.entries(decision.headers)) res.setHeader(name, value);
    if (!decision.allowed) {
      metrics.rateLimited.inc({ route: route.template });
      return sendError(res, 429, 'too many requests', requestId);
    }

    if (declaredTooLarge(req.headers['content-length'], deps.bodyLimit)) {
      sendError(res, 413, 'request body too large', requestId, { details: { limitBytes: deps.bodyLimit } });
      return discardBody(req, deps.bodyLimit * DISCARD_FACTOR);
    }

    switch (route.target) {
      case 'login': {
        if (!deps.users) return sendError(res, 404, 'not found', requestId);
        const type = req.headers['content-type'];
        if (type !== undefined && !JSON_MEDIA_TYPE.test(type)) {
          return sendError(res, 415, 'content type must be application/json (or a +json type)', requestId);
        }
        const outcome = await login(await readBody(req, deps.bodyLimit), deps.users, deps.tokens, deps.loginGuard);
        logSecurityEvent(outcome, deps.clientAddress(req), requestId);
        if (outcome.status === 200) return sendJson(res, 200, outcome.token);
        if (outcome.status === 401) return sendError(res, 401, outcome.error, requestId, { headers: UNAUTHENTICATED });
        if (outcome.status === 429) {
          return sendError(res, 429, outcome.error, requestId, { headers: { 'Retry-After': String(outcome.retryAfterSeconds) } });
        }
        return sendError(res, 400, outcome.error, requestId, { details: outcome.details });
      }
      case 'me': {
        const p = principal!;
        return sendJson(res, 200, { sub: p.subject, ...(p.email ? { email: p.email } : {}), tenant: p.tenant, scopes: p.scopes });
      }
      case 'jwks':
        if (!deps.tokens.publicJwks) return sendError(res, 404, 'not found', requestId);
        return sendJson(res, 200, deps.tokens.publicJwks);
      case 'openapi': {
        const document = (await deps.proxy.getJson(req, requestId)) as Parameters<typeof withGatewayOperations>[0];
        return sendJson(res, 200, withGatewayOperations(document, { login: deps.users !== null, jwks: deps.tokens.publicJwks !== null }));
      }
      case 'proxy': {
        let body: Buffer | undefined;
        if (route.perJob && principal) {
          body = await readBody(req, deps.bodyLimit);
          const extra = jobCount(body) - 1;
          // Waiting would never help: say so rather than answer 429 with a Retry-After that cannot work.
          if (extra + 1 > deps.limiter.perMinute) {
            return sendError(res, 422, `a batch of ${extra + 1} jobs is more than the ${deps.limiter.perMinute} jobs a minute this user may submit`, requestId, {
              details: { jobs: extra + 1, limitPerMinute: deps.limiter.perMinute },
            });
          }
          if (extra > 0) {
            const charged = await deps.limiter.charge(key, extra);
            for (const [name, value] of Object.entries(charged.headers)) res.setHeader(name, value);
            if (!charged.allowed) {
              metrics.rateLimited.inc({ route: route.template });
              return sendError(res, 429, 'too many requests: a batch counts one request per job', requestId, { details: { jobs: extra + 1 } });
            }
          }
        }
        return deps.proxy.forward(req, res, { requestId, principal, stream: route.stream === true, bodyLimit: deps.bodyLimit, body });
      }
    }
  }

  return (req, res) => {
    const started = performance.now();
    const exchange: Exchange = { requestId: requestIdFrom(req.headers['x-request-id']), route: '(unmatched)', principal: null };
    const traceId = traceIdOf(req);
    res.setHeader('X-Request-ID', exchange.requestId);
    res.once('close', () => accessLog(req, res, exchange, started, traceId));
    withContext({ requestId: exchange.requestId }, () => {
      handle(req, res, exchange).catch((error: unknown) => {
        if (error instanceof UpstreamError) {
          if (error.status !== 413) logger.warn({ err: error.cause, status: error.status }, 'forwarding to api failed');
          const headers: Record<string, string> = error.status === 413 ? { Connection: 'close' } : {};
          if (error.status === 503) headers['Retry-After'] = '1';
          return sendError(res, error.status, error.message, exchange.requestId, { headers });
        }
        if (error instanceof BodyTooLargeError) {
          return sendError(res, 413, 'request body too large', exchange.requestId, {
            details: { limitBytes: error.limit },
            headers: { Connection: 'close' },
          });
        }
        logger.error({ err: error }, 'request failed');
        sendError(res, 500, 'internal error', exchange.requestId);
      });
    });
  };
}

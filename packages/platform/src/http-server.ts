import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Registry } from 'prom-client';
import { runReadinessChecks, type ReadinessCheck } from './health.js';
import { exposeMetrics } from './metrics.js';
import { traceRequests } from './telemetry/server-span.js';

export type RequestHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export interface OpsRouterOptions {
  registry: Registry;
  readiness: ReadinessCheck[];
  /** While draining, /readyz answers 503 so load balancers stop sending work. */
  isDraining: () => boolean;
  /** A service's own cluster-internal GET endpoints (an autoscaler's metric), by path prefix. */
  routes?: ReadonlyArray<{ prefix: string; handler: RequestHandler }>;
}

export interface ServerOptions {
  port: number;
  host?: string;
  handler: RequestHandler;
  /** Largest request head accepted (Node's default is 16 KiB); larger ones get 431. */
  maxHeaderSize?: number;
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * The operational endpoints every service has: /healthz, /readyz, /metrics, plus the few GET
 * routes a service adds for its cluster's own components. They are served on a port of their own
 * (OPS_PORT) that no Ingress or public route exposes, since readiness names the dependencies and
 * metrics describe the traffic.
 */
export function createOpsRouter(options: OpsRouterOptions): RequestHandler {
  return (req, res) => {
    const path = req.url?.split('?')[0];
    if (req.method === 'GET' && path === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (req.method === 'GET' && path === '/readyz') {
      if (options.isDraining()) return sendJson(res, 503, { ready: false, reason: 'shutting down' });
      runReadinessChecks(options.readiness).then(
        (report) => sendJson(res, report.ready ? 200 : 503, report),
        () => sendJson(res, 503, { ready: false }),
      );
      return;
    }
    if (req.method === 'GET' && path === '/metrics') {
      exposeMetrics(options.registry, req.headers.accept).then(
        ({ contentType, body }) => {
          res.writeHead(200, { 'content-type': contentType });
          res.end(body);
        },
        () => sendJson(res, 500, { error: 'metrics unavailable' }),
      );
      return;
    }
    const route = req.method === 'GET' && path ? options.routes?.find((r) => path.startsWith(r.prefix)) : undefined;
    if (route) return route.handler(req, res);
    sendJson(res, 404, { error: 'not found' });
  };
}

/** What a request Node's HTTP parser refused did wrong, in words a client can act on. */
export function parseErrorReason(code: string | undefined): { status: number; reason: string } {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, reason: 'request headers too large' };
    case 'HPE_INVALID_HEADER_TOKEN':
      return { status: 400, reason: 'malformed request: a header name or value holds a forbidden character (NUL, CR, LF or another control character)' };
    case 'HPE_INVALID_URL':
      return { status: 400, reason: 'malformed request: the request target holds a forbidden character (NUL, space or another control character)' };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { status: 413, reason: 'chunk extensions too large' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, reason: 'request not received in time' };
    default:
      return { status: 400, reason: 'malformed HTTP request' };
  }
}

/**
 * Answers a request the parser refused (or that took too long to arrive) with the reason as JSON,
 * where Node would send a bare status line, then destroys the connection as Node does: what
 * follows the bad bytes cannot be trusted, and a client still trickling bytes must not keep it.
 * Like Node, it answers only when no response is under way on the socket (a keep-alive connection
 * between requests has none), lest the answer corrupt one.
 */
function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
  if (socket.writable && !inFlight?.headersSent && error.code !== 'ECONNRESET') {
    const { status, reason } = parseErrorReason(error.code);
    const body = JSON.stringify({ error: reason });
    socket.write(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

export interface ListeningServer {
  server: http.Server;
  port: number;
  /** Stops accepting connections, lets in-flight requests finish, then resolves. */
  close: () => Promise<void>;
}

export async function listen(options: ServerOptions): Promise<ListeningServer> {
  // Request deadlines are enforced by a sweep every connectionsCheckingInterval (30 s by default):
  // once a second, a client trickling its headers or body is cut off 15 s after it began.
  const server = http.createServer({ maxHeaderSize: options.maxHeaderSize, connectionsCheckingInterval: 1_000 }, options.handler);
  server.on('clientError', answerClientError);
  // Longer than typical load balancer idle timeouts so they, not we, close idle keep-alive sockets.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  // Bounds receiving a request (headers and body), not the response: SSE streams are unaffected.
  server.requestTimeout = 15_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= new Promise<void>((resolve) => {
      // Keep-alive sockets that finish their last request during the drain go idle later: close
      // them as they do, or one client holding a socket open would stall the shutdown.
      const reaper = setInterval(() => server.closeIdleConnections(), 100);
      server.close(() => {
        clearInterval(reaper);
        resolve();
      });
      server.closeIdleConnections();
    });
    return closing;
  };
  return { server, port, close };
}

/** The traffic server of a service: its own handler, traced, with no operational endpoints on it. */
export function listenForTraffic(options: ServerOptions): Promise<ListeningServer> {
  return listen({ ...options, handler: traceRequests(options.handler) });
}

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { runReadinessChecks, type ReadinessCheck } from './health.js';
import { exposeMetrics } from './metrics.js';
import { traceRequests } from './telemetry/server-span.js';

export type RequestHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export interface OpsServerOptions {
  port: number;
  host?: string;
  registry: Registry;
  readiness: ReadinessCheck[];
  /** Serves everything that is not /healthz, /readyz or /metrics (an express app, for example). */
  handler?: RequestHandler;
  /** While draining, /readyz answers 503 so load balancers stop sending work. */
  isDraining: () => boolean;
  /** Largest request head accepted (Node's default is 16 KiB); larger ones get 431. */
  maxHeaderSize?: number;
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Routes the operational endpoints every service has; kept off express so they stay cheap. */
export function createOpsRouter(options: OpsServerOptions): RequestHandler {
  const handler = options.handler && traceRequests(options.handler);
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
    if (handler) return handler(req, res);
    sendJson(res, 404, { error: 'not found' });
  };
}

export interface ListeningServer {
  server: http.Server;
  port: number;
  /** Stops accepting connections, lets in-flight requests finish, then resolves. */
  close: () => Promise<void>;
}

export async function listen(options: OpsServerOptions): Promise<ListeningServer> {
  // Request deadlines are enforced by a sweep every connectionsCheckingInterval (30 s by default):
  // once a second, a client trickling its headers or body is cut off 15 s after it began.
  const server = http.createServer({ maxHeaderSize: options.maxHeaderSize, connectionsCheckingInterval: 1_000 }, createOpsRouter(options));
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

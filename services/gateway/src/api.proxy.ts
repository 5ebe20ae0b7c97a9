import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { context, propagation } from '@opentelemetry/api';
import { Pool, errors as undiciErrors } from 'undici';
import { BodyTooLargeError, limitBody } from './body-limit.js';
import type { Principal } from './scopes.js';

/** Headers that describe one hop, not the message, plus ones undici sets itself. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'expect',
]);

/** Identity headers the api trusts: only the gateway may set them, so client copies are dropped. */
const IDENTITY_PREFIX = 'x-conveyor-';

export interface ForwardOptions {
  requestId: string;
  principal: Principal | null;
  /** A long-lived stream (SSE): no idle timeout on the answer. */
  stream: boolean;
  bodyLimit: number;
  /** The body, already read (a per-job route counted its jobs); streamed from the request otherwise. */
  body?: Buffer;
}

/** Why forwarding failed, in the terms the client is told. */
export class UpstreamError extends Error {
  constructor(
    readonly status: 502 | 503 | 504 | 413,
    message: string,
    options?: { cause: unknown },
  ) {
    super(message, options);
    this.name = 'UpstreamError';
  }
}

export interface ApiProxy {
  /** Streams the request to the api and its answer back; rejects with UpstreamError before any byte of an answer is sent. */
  forward(req: IncomingMessage, res: ServerResponse, options: ForwardOptions): Promise<void>;
  /** Asks the api for the JSON document at the request's path (the OpenAPI document), to answer it amended; UpstreamError unless it answers 200. */
  getJson(req: IncomingMessage, requestId: string): Promise<unknown>;
  close(): Promise<void>;
}

export function upstreamHeaders(
  incoming: IncomingHttpHeaders,
  { requestId, principal, internalToken, remoteAddress }: {
    requestId: string;
    principal: Principal | null;
    internalToken: string;
    remoteAddress: string | undefined;
  },
): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || HOP_BY_HOP.has(name) || name.startsWith(IDENTITY_PREFIX)) continue;
    // The token was checked here; the api trusts the identity headers, not a second copy of it.
    if (name === 'authorization' || name === 'cookie' || name === 'x-request-id') continue;
    headers[name] = value;
  }
  headers['x-request-id'] = requestId;
  headers['x-conveyor-internal-token'] = internalToken;
  if (principal) {
    headers['x-conveyor-tenant'] = principal.tenant;
    headers['x-conveyor-subject'] = principal.subject;
    headers['x-conveyor-scopes'] = principal.scopes.join(' ');
  }
  const prior = incoming['x-forwarded-for'];
  if (remoteAddress) headers['x-forwarded-for'] = prior ? `${String(prior)}, ${remoteAddress}` : remoteAddress;
  // The api continues the gateway's span; without a tracing SDK the client's traceparent passes as is.
  propagation.inject(context.active(), headers);
  return headers;
}

function downstreamHeaders(upstream: IncomingHttpHeaders | Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(upstream)) {
    if (value === undefined || HOP_BY_HOP.has(name) || name === 'x-powered-by' || name === 'x-request-id') continue;
    headers[name] = value;
  }
  return headers;
}

function hasBody(req: IncomingMessage): boolean {
  if (req.method === 'GET' || req.method === 'HEAD') return false;
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/**
 * Streams the api's answer to the client and resolves when the exchange is over. If either side
 * breaks mid-answer, the other is destroyed too: the status is already sent, so a broken
 * connection is the only honest signal left. Plain pipe() rather than stream.pipeline, whose
 * AbortController and DOMException on every finish cost the gateway about 6 % of its CPU.
 */
function relayAnswer(body: Readable, res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    if (res.closed) {
      // The client left before the answer came (while its request was being checked, say): there
      // is no one to relay to. Destroying an unread undici body emits RequestAbortedError, which
      // must have a listener or it kills the process.
      body.on('error', () => undefined);
      body.destroy();
      return resolve();
    }
    body.on('error', (error) => res.destroy(error));
    res.once('close', () => {
      if (!body.readableEnded) body.destroy();
      resolve();
    });
    body.pipe(res);
  });
}

function classify(error: unknown): UpstreamError {
  if (error instanceof UpstreamError) return error;
  if (error instanceof BodyTooLargeError || (error as { cause?: unknown })?.cause instanceof BodyTooLargeError) {
    return new UpstreamError(413, 'request body too large', { cause: error });
  }
  if (error instanceof undiciErrors.HeadersTimeoutError) return new UpstreamError(504, 'api did not answer in time', { cause: error });
  if (error instanceof undiciErrors.ClientDestroyedError || error instanceof undiciErrors.ClientClosedError) {
    return new UpstreamError(503, 'gateway is shutting down', { cause: error });
  }
  return new UpstreamError(502, 'api unavailable', { cause: error });
}

export function createApiProxy(settings: { apiUrl: string; internalToken: string; connections: number }): ApiProxy {
  const pool = new Pool(new URL(settings.apiUrl).origin, {
    connections: settings.connections,
    keepAliveTimeout: 30_000,
    connect: { timeout: 5_000 },
  });
  return {
    async forward(req, res, { requestId, principal, stream, bodyLimit, body: read }) {
      // undici takes an EventEmitter as its abort signal: cheaper than an AbortController per request.
      const abort = new EventEmitter();
      // The client went away before the answer began: stop the upstream request.
      const onClose = () => {
        if (!res.writableFinished) abort.emit('abort');
      };
      res.once('close', onClose);
      let body: NodeJS.ReadableStream | Buffer | undefined = read;
      let bodyError: unknown;
      if (!read && hasBody(req)) {
        const limited = limitBody(bodyLimit);
        limited.once('error', (error) => (bodyError = error));
        body = req.pipe(limited);
        req.once('error', (error) => limited.destroy(error));
      }
      let answer: Awaited<ReturnType<Pool['request']>>;
      try {
        answer = await pool.request({
          path: req.url ?? '/',
          method: req.method as 'GET',
          headers: upstreamHeaders(req.headers, {
            requestId,
            principal,
            internalToken: settings.internalToken,
            remoteAddress: req.socket.remoteAddress,
          }),
          body: body as never,
          signal: abort,
          // Longer than the longest Prefer: wait the api honours (30 s) plus its own work.
          headersTimeout: 45_000,
          bodyTimeout: stream ? 0 : 60_000,
        });
      } catch (error) {
        res.off('close', onClose);
        throw classify(bodyError ?? error);
      }
      res.off('close', onClose);
      res.writeHead(answer.statusCode, downstreamHeaders(answer.headers));
      // Event streams must reach the client as each event is written, not when a buffer fills.
      if (stream) res.flushHeaders();
      // From here a client that leaves destroys the answer's body, which closes the api's stream (SSE).
      await relayAnswer(answer.body, res);
    },
    async getJson(req, requestId) {
      const path = req.url ?? '/';
      // Only the forwarding chain of the client's headers: the answer is read here, so no content negotiation.
      const forwarded = { 'x-forwarded-for': req.headers['x-forwarded-for'] };
      let answer: Awaited<ReturnType<Pool['request']>>;
      try {
        answer = await pool.request({
          path,
          method: 'GET',
          headers: upstreamHeaders(forwarded, { requestId, principal: null, internalToken: settings.internalToken, remoteAddress: req.socket.remoteAddress }),
          headersTimeout: 30_000,
          bodyTimeout: 30_000,
        });
      } catch (error) {
        throw classify(error);
      }
      if (answer.statusCode !== 200) {
        await answer.body.dump();
        throw new UpstreamError(502, `api answered ${answer.statusCode} for ${path}`);
      }
      return answer.body.json();
    },
    close: () => pool.close(),
  };
}

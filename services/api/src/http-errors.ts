import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { isDatabaseUnavailable, type Logger } from '@conveyor/platform';

/** An error whose status and message are meant for the client; anything else becomes a bare 500. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details?: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export function requestIdOf(res: Response): string | undefined {
  return res.locals.requestId as string | undefined;
}

/** Every error reply has this shape: `{error, details?, requestId}`. */
export function sendError(res: Response, status: number, error: string, details?: unknown): void {
  res.status(status).json({ error, ...(details === undefined ? {} : { details }), requestId: requestIdOf(res) });
}

/** body-parser's errors carry a `type`; these are the client's fault and say so. */
function clientErrorOf(err: unknown): HttpError | undefined {
  if (err instanceof HttpError) return err;
  const type = (err as { type?: unknown } | null)?.type;
  if (type === 'entity.too.large') return new HttpError(413, 'request body too large');
  if (type === 'entity.parse.failed') return new HttpError(400, 'malformed JSON body');
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') {
    return new HttpError(415, 'unsupported body encoding');
  }
  if (type === 'request.aborted') return new HttpError(400, 'request aborted');
  // The router's own percent-decoding of a path parameter (checkRequestTarget normally answers first).
  if (err instanceof URIError) return new HttpError(400, 'path is not valid percent-encoded UTF-8');
  return undefined;
}

/** Long enough for a Postgres restart or failover, short enough that clients do not give up. */
const DATABASE_RETRY_AFTER_SECONDS = 5;

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) return next(err);
    const client = clientErrorOf(err);
    if (client) {
      res.set(client.headers);
      return sendError(res, client.status, client.message, client.details);
    }
    if (isDatabaseUnavailable(err)) {
      // A temporary condition the client should retry; an Idempotency-Key makes the retry safe even
      // if the connection broke after a commit.
      logger.warn({ err, method: req.method, path: req.path, request_id: requestIdOf(res) }, 'database unavailable');
      res.set('Retry-After', String(DATABASE_RETRY_AFTER_SECONDS));
      return sendError(res, 503, 'service unavailable: the database cannot be reached; retry later');
    }
    logger.error({ err, method: req.method, path: req.path, request_id: requestIdOf(res) }, 'request failed');
    sendError(res, 500, 'internal error');
  };
}

export const notFound: RequestHandler = (_req, res) => sendError(res, 404, 'not found');

export function methodNotAllowed(allow: string[]): RequestHandler {
  const header = allow.join(', ');
  return (_req, res) => {
    res.set('Allow', header);
    sendError(res, 405, 'method not allowed');
  };
}

import { randomUUID } from 'node:crypto';
import express, { type Request, type RequestHandler } from 'express';
import type { z } from 'zod';
import { captureContext, traceIdOf, withContext } from '@conveyor/platform';
import { HttpError } from './http-errors.js';

/** Parses with a zod schema or answers 400 with the zod issues (paths under `prefix`). */
export function parseOr400<S extends z.ZodType>(schema: S, value: unknown, prefix: PropertyKey[] = []): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => ({ ...issue, path: [...prefix, ...issue.path] }));
  throw new HttpError(400, 'invalid request', issues);
}

/** An id in the path that is not even shaped like one names nothing: 404, never a 500 from Postgres. */
export function parseIdOr404<S extends z.ZodType>(schema: S, params: unknown, what: string): z.infer<S> {
  const result = schema.safeParse(params);
  if (!result.success) throw new HttpError(404, `${what} not found`);
  return result.data;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/**
 * Takes the gateway's X-Request-ID (or makes one), echoes it, and runs the rest of the request
 * with it in the log context.
 */
export const requestContext: RequestHandler = (req, res, next) => {
  const given = req.headers['x-request-id'];
  const requestId = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
  res.locals.requestId = requestId;
  res.setHeader('x-request-id', requestId);
  withContext({ requestId }, next);
};

/** Where a new job's trace continues: the active span, or the gateway's traceparent when tracing is off. */
export function traceOf(req: Request, requestId: string | undefined) {
  const incoming = req.headers.traceparent;
  const traceparent =
    captureContext().traceparent ?? (typeof incoming === 'string' && TRACEPARENT.test(incoming) ? incoming : undefined);
  return { traceparent, traceId: traceIdOf(traceparent), requestId };
}

/**
 * JSON bodies only on the routes that take one: a non-JSON body is 415, a body over the limit 413
 * and malformed JSON 400 (both mapped in the error handler). An absent body reads as `undefined`.
 */
export function jsonBody(limitBytes: number): RequestHandler {
  const parse = express.json({ limit: limitBytes, strict: true });
  return (req, res, next) => {
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (hasBody && !req.is('application/json') && !req.is('+json')) {
      return next(new HttpError(415, 'request body must be application/json'));
    }
    parse(req, res, (error?: unknown) => {
      if (error) return next(error);
      const problem = bodyProblem(req.body);
      if (problem) return next(new HttpError(400, 'invalid request', [problem]));
      next();
    });
  };
}

/** Deeper nesting than any job needs only costs CPU in every service that parses it again. */
export const MAX_JSON_DEPTH = 32;

/**
 * What a parsed body may not hold even when its schema would allow it: U+0000, which Postgres
 * cannot store in text or jsonb, and nesting deeper than MAX_JSON_DEPTH.
 */
export function bodyProblem(value: unknown, path: PropertyKey[] = []): { path: PropertyKey[]; message: string } | undefined {
  if (path.length > MAX_JSON_DEPTH) return { path, message: `nested deeper than ${MAX_JSON_DEPTH} levels` };
  if (typeof value === 'string') {
    return value.includes('\u0000') ? { path, message: 'must not contain the NUL character (\\u0000)' } : undefined;
  }
  const entries: Array<[PropertyKey, unknown]> = Array.isArray(value)
    ? value.map((item, i) => [i, item])
    : value && typeof value === 'object'
      ? Object.entries(value)
      : [];
  for (const [key, item] of entries) {
    if (typeof key === 'string' && key.includes('\u0000')) {
      return { path: [...path, key], message: 'must not contain the NUL character (\\u0000)' };
    }
    const found = bodyProblem(item, [...path, key]);
    if (found) return found;
  }
  return undefined;
}

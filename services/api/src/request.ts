import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import express, { type Request, type RequestHandler } from 'express';
import type { z } from 'zod';
import { captureContext, requestTextProblem, textProblem, traceIdOf, withContext } from '@conveyor/platform';
import { HttpError } from './http-errors.js';

/**
 * Parses with a zod schema or answers 400 with the zod issues (paths under `prefix`). An issue's
 * `pattern` (the source of the regex a string failed) is left out: its message says in words what
 * is expected.
 */
export function parseOr400<S extends z.ZodType>(schema: S, value: unknown, prefix: PropertyKey[] = []): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map(({ pattern: _pattern, ...issue }: z.core.$ZodIssue & { pattern?: unknown }) => ({
    ...issue,
    path: [...prefix, ...issue.path],
  }));
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

/**
 * A path, query or header that decodes to NUL, an unpaired surrogate or no UTF-8 at all: 400 before
 * any route reads it. The gateway checks the same; this keeps the api safe on its own.
 */
export const checkRequestText: RequestHandler = (req, _res, next) => {
  const problem = requestTextProblem({ url: req.originalUrl, rawHeaders: req.rawHeaders });
  next(problem && new HttpError(400, problem.reason, { where: problem.where }));
};

/** Where a new job's trace continues: the active span, or the gateway's traceparent when tracing is off. */
export function traceOf(req: Request, requestId: string | undefined) {
  const incoming = req.headers.traceparent;
  const traceparent =
    captureContext().traceparent ?? (typeof incoming === 'string' && TRACEPARENT.test(incoming) ? incoming : undefined);
  return { traceparent, traceId: traceIdOf(traceparent), requestId };
}

/** application/json and the structured-syntax `+json` types (RFC 6839), such as application/vnd.api+json. */
const JSON_TYPES = ['application/json', 'application/*+json'];

/**
 * JSON bodies only on the routes that take one: a non-JSON body is 415, a body over the limit 413
 * and malformed JSON 400 (both mapped in the error handler). An absent body reads as `undefined`.
 */
export function jsonBody(limitBytes: number): RequestHandler {
  const parse = express.json({
    limit: limitBytes,
    strict: true,
    type: JSON_TYPES,
    // The decoder would turn bytes that are not UTF-8 (an encoded surrogate, say) into U+FFFD
    // silently, and JSON.parse would call a raw NUL only a "bad control character".
    verify: (_req, _res, buffer) => {
      if (!isUtf8(buffer)) throw new HttpError(400, 'body is not valid UTF-8');
      if (buffer.includes(0)) throw new HttpError(400, 'body must not contain a raw NUL byte (U+0000)');
    },
  });
  return (req, res, next) => {
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (hasBody && !req.is(JSON_TYPES)) {
      return next(new HttpError(415, 'request body must be application/json (or a +json type such as application/vnd.api+json)'));
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
 * What a parsed body may not hold even when its schema would allow it: text Postgres cannot store
 * (U+0000, an unpaired surrogate such as "\ud800"; see textProblem) and nesting deeper than MAX_JSON_DEPTH.
 */
export function bodyProblem(value: unknown, path: PropertyKey[] = []): { path: PropertyKey[]; message: string } | undefined {
  if (path.length > MAX_JSON_DEPTH) return { path, message: `nested deeper than ${MAX_JSON_DEPTH} levels` };
  if (typeof value === 'string') {
    const message = textProblem(value);
    return message === undefined ? undefined : { path, message };
  }
  const entries: Array<[PropertyKey, unknown]> = Array.isArray(value)
    ? value.map((item, i) => [i, item])
    : value && typeof value === 'object'
      ? Object.entries(value)
      : [];
  for (const [key, item] of entries) {
    const keyMessage = typeof key === 'string' ? textProblem(key) : undefined;
    if (keyMessage !== undefined) return { path: [...path, key], message: `key ${keyMessage}` };
    const found = bodyProblem(item, [...path, key]);
    if (found) return found;
  }
  return undefined;
}

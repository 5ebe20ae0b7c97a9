import type { IncomingMessage } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';

export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`request body exceeds ${limit} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

/** True when a declared Content-Length is already over the limit (so nothing needs to be read). */
export function declaredTooLarge(contentLength: string | undefined, limit: number): boolean {
  if (contentLength === undefined) return false;
  const declared = Number(contentLength);
  return Number.isFinite(declared) && declared > limit;
}

/** Passes bytes through untouched and fails the stream the moment more than `limit` have passed. */
export function limitBody(limit: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      seen += chunk.length;
      if (seen > limit) callback(new BodyTooLargeError(limit));
      else callback(null, chunk);
    },
  });
}

/** How much of a refused body the gateway reads and throws away, as a multiple of the limit. */
export const DISCARD_FACTOR = 8;

/**
 * Reads and throws away a body already answered with 413, so the client, still sending it, gets to
 * read that answer: closing at once made it fail with a broken pipe instead. Past `maxBytes` the
 * connection is cut.
 */
export function discardBody(req: IncomingMessage, maxBytes: number): void {
  let discarded = 0;
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > maxBytes) req.socket.destroy();
  });
  req.on('error', () => undefined);
  req.resume();
}

import { randomUUID } from 'node:crypto';

// Visible ASCII without separators and bounded length: safe to echo in a header and a log line.
const ACCEPTABLE = /^[A-Za-z0-9._:-]{8,128}$/;

/** The client's `X-Request-ID` when it is a sane token, otherwise a fresh UUID. */
export function requestIdFrom(header: string | string[] | undefined): string {
  return typeof header === 'string' && ACCEPTABLE.test(header) ? header : randomUUID();
}

import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signatures, in the style receivers already know from Stripe: the header
 * `Conveyor-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. Signing the timestamp
 * with the body lets a receiver reject replays of an old, validly signed request.
 */

export const SIGNATURE_HEADER = 'Conveyor-Signature';
export const EVENT_ID_HEADER = 'Conveyor-Event-Id';

function hmac(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

/**
 * The `Conveyor-Signature` header value for `body` sent at `timestamp` (unix seconds): one `v1=`
 * per secret, so that while a tenant rotates, receivers holding either secret can verify.
 */
export function signWebhook(secrets: string | readonly string[], timestamp: number, body: string): string {
  if (!Number.isInteger(timestamp) || timestamp < 0) throw new Error('timestamp must be whole unix seconds');
  const keys = typeof secrets === 'string' ? [secrets] : secrets;
  if (keys.length === 0) throw new Error('at least one signing secret is needed');
  return [`t=${timestamp}`, ...keys.map((secret) => `v1=${hmac(secret, timestamp, body)}`)].join(',');
}

export type VerifyResult = { ok: true; timestamp: number } | { ok: false; reason: string };

/**
 * Checks a `Conveyor-Signature` header against the raw body. Several `v1=` entries are accepted so a
 * sender can sign with an old and a new secret while rotating. `now` is injectable for tests.
 */
export function verifyWebhook(
  secret: string,
  header: string | undefined,
  body: string,
  toleranceSeconds: number,
  now: number = Math.floor(Date.now() / 1000),
): VerifyResult {
  if (!header) return { ok: false, reason: 'missing signature header' };
  let timestamp: number | undefined;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const [key, value] = part.trim().split('=', 2);
    if (key === 't' && value && /^\d+$/.test(value)) timestamp = Number(value);
    else if (key === 'v1' && value) signatures.push(value);
  }
  if (timestamp === undefined) return { ok: false, reason: 'signature header has no timestamp' };
  if (signatures.length === 0) return { ok: false, reason: 'signature header has no v1 signature' };
  if (Math.abs(now - timestamp) > toleranceSeconds) return { ok: false, reason: 'timestamp outside the tolerance' };
  const expected = Buffer.from(hmac(secret, timestamp, body), 'hex');
  const matches = signatures.some((candidate) => {
    const given = Buffer.from(candidate, 'hex');
    // timingSafeEqual throws on different lengths; the length of a hex digest is not secret.
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  return matches ? { ok: true, timestamp } : { ok: false, reason: 'signature does not match' };
}

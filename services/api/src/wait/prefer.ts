/** The longest `Prefer: wait` the api honours; a longer one is served as this (RFC 7240 lets a server choose). */
export const MAX_WAIT_SECONDS = 30;

/** `wait = "wait" BWS "=" BWS delta-seconds` (RFC 7240 §4.3); a quoted value is the same value. */
const WAIT = /^wait\s*=\s*(?:"(\d+)"|(\d+))$/i;

/**
 * The seconds a request's `Prefer` header asks to wait for, capped at MAX_WAIT_SECONDS, or
 * undefined. RFC 7240 §2: a preference the server cannot comply with is ignored, never an error,
 * and only the first instance of a preference counts, so `wait=abc` or `wait=-1` (first) means
 * no wait. Several headers are one comma-separated list; parameters after `;` are not ours.
 */
export function parsePreferWait(header: string | string[] | undefined): number | undefined {
  if (header === undefined) return undefined;
  const elements = (Array.isArray(header) ? header.join(',') : header).split(',');
  for (const element of elements) {
    const preference = element.split(';', 1)[0]!.trim();
    if (!/^wait(?:$|[\s=])/i.test(preference)) continue;
    const match = WAIT.exec(preference);
    if (!match) return undefined;
    return Math.min(Number(match[1] ?? match[2]), MAX_WAIT_SECONDS);
  }
  return undefined;
}

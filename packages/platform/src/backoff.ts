export interface Backoff {
  baseMs: number;
  maxMs: number;
  /**
   * `full`: uniform in [0, cap], spreads retries the most (AWS Architecture Blog, "Exponential
   * Backoff and Jitter"); `equal`: uniform in [cap/2, cap], for loops that must not retry at once.
   */
  jitter?: 'full' | 'equal';
}

/**
 * The one backoff of every retry loop: the delay before retry number `attempt` (1 = the first
 * retry), growing as base * 2^(attempt-1) up to maxMs, with jitter so replicas retrying together do
 * not stampede. `random` is injectable so tests can pin it.
 */
export function backoffDelay(attempt: number, { baseMs, maxMs, jitter = 'full' }: Backoff, random: () => number = Math.random): number {
  if (attempt < 1) return 0;
  // The exponent is capped so a very high attempt count cannot overflow to Infinity.
  const cap = Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 52));
  return Math.round(jitter === 'full' ? cap * random() : cap / 2 + (cap / 2) * random());
}

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
}

/**
 * Delay before retry number `attempt` (1 = the first retry): exponential growth capped at maxMs,
 * with "full jitter" (a uniform draw in [0, cap]) so receivers recovering from an outage are not hit
 * by every sender in lock-step. `random` is injectable so tests can pin it.
 */
export function backoffDelay(attempt: number, { baseMs, maxMs }: BackoffOptions, random: () => number = Math.random): number {
  if (attempt < 1) return 0;
  const cap = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
  return Math.round(cap * random());
}

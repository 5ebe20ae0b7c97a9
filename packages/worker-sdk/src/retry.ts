export interface BackoffPolicy {
  baseSeconds: number;
  maxSeconds: number;
}

/**
 * Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter"):
 * uniform in [1, min(max, base * 2^(attempt-1))] whole seconds, the unit of its settings; never 0,
 * so a failing job cannot spin.
 */
export function retryDelaySeconds(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const cap = Math.min(policy.maxSeconds, policy.baseSeconds * 2 ** Math.max(0, attempt - 1));
  return Math.min(cap, Math.max(1, Math.ceil(random() * cap)));
}

export type FailureDecision = { kind: 'retry'; delaySeconds: number } | { kind: 'fail'; reason: 'permanent' | 'attempts exhausted' };

/** What a failed attempt leads to: another attempt after a backoff, or the end. */
export function decideFailure(
  attempt: number,
  maxAttempts: number,
  permanent: boolean,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): FailureDecision {
  if (permanent) return { kind: 'fail', reason: 'permanent' };
  if (attempt >= maxAttempts) return { kind: 'fail', reason: 'attempts exhausted' };
  return { kind: 'retry', delaySeconds: retryDelaySeconds(attempt, policy, random) };
}

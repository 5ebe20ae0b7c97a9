import { describe, expect, it } from 'vitest';
import { decideFailure, retryDelaySeconds } from './retry.js';

const policy = { baseSeconds: 2, maxSeconds: 60 };

describe('retry backoff with full jitter', () => {
  it('stays within [1, min(max, base * 2^(attempt-1))] seconds for any random draw', () => {
    for (let attempt = 1; attempt <= 12; attempt++) {
      const cap = Math.min(60, 2 * 2 ** (attempt - 1));
      for (const r of [0, 1e-9, 0.25, 0.5, 0.999999, 1]) {
        const d = retryDelaySeconds(attempt, policy, () => r);
        expect(d).toBeGreaterThanOrEqual(1);
        expect(d).toBeLessThanOrEqual(cap);
        expect(Number.isInteger(d)).toBe(true);
      }
    }
  });

  it('grows the ceiling exponentially and spreads the draws across it', () => {
    expect(retryDelaySeconds(1, policy, () => 1)).toBe(2);
    expect(retryDelaySeconds(3, policy, () => 1)).toBe(8);
    expect(retryDelaySeconds(10, policy, () => 1)).toBe(60);
    const draws = new Set(Array.from({ length: 500 }, () => retryDelaySeconds(6, policy)));
    expect(draws.size).toBeGreaterThan(20);
  });

  it('retries until maxAttempts, and never after a permanent error', () => {
    expect(decideFailure(1, 3, false, policy, () => 0.5)).toEqual({ kind: 'retry', delaySeconds: 1 });
    expect(decideFailure(2, 3, false, policy, () => 0.5)).toEqual({ kind: 'retry', delaySeconds: 2 });
    expect(decideFailure(3, 3, false, policy)).toEqual({ kind: 'fail', reason: 'attempts exhausted' });
    expect(decideFailure(1, 3, true, policy)).toEqual({ kind: 'fail', reason: 'permanent' });
  });
});

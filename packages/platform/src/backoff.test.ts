import { describe, expect, it } from 'vitest';
import { backoffDelay } from './backoff.js';

const opts = { baseMs: 100, maxMs: 5_000 };

describe('backoffDelay', () => {
  it('doubles the cap each retry up to maxMs', () => {
    const top = () => 1;
    expect([1, 2, 3, 4, 5, 6, 7].map((a) => backoffDelay(a, opts, top))).toEqual([100, 200, 400, 800, 1600, 3200, 5000]);
  });

  it('draws uniformly below the cap (full jitter)', () => {
    expect(backoffDelay(3, opts, () => 0)).toBe(0);
    expect(backoffDelay(3, opts, () => 0.5)).toBe(200);
    const draws = Array.from({ length: 200 }, () => backoffDelay(4, opts));
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...draws)).toBeLessThanOrEqual(800);
    expect(new Set(draws).size).toBeGreaterThan(10);
  });

  it('keeps equal jitter in the upper half of the cap, so a loop never retries at once', () => {
    expect(backoffDelay(3, { ...opts, jitter: 'equal' }, () => 0)).toBe(200);
    expect(backoffDelay(3, { ...opts, jitter: 'equal' }, () => 1)).toBe(400);
  });

  it('waits nothing before the first attempt and never overflows on huge attempt numbers', () => {
    expect(backoffDelay(0, opts, () => 1)).toBe(0);
    expect(backoffDelay(10_000, opts, () => 1)).toBe(5_000);
  });
});

import { describe, expect, it } from 'vitest';
import { estimateRetryAfter } from './retry-after.js';

const idle = { ahead: 0, completedPerSecond: 0, meanRunSeconds: null };

describe('estimateRetryAfter', () => {
  it('answers the minimum for a queued job on an idle pool with fast jobs', () => {
    expect(estimateRetryAfter({ ...idle, phase: 'queued', meanRunSeconds: 0.05 })).toBe(1);
  });

  it('grows with the backlog ahead and shrinks with the completion rate', () => {
    const slow = estimateRetryAfter({ phase: 'queued', ahead: 100, completedPerSecond: 10, meanRunSeconds: 0.5 });
    const fast = estimateRetryAfter({ phase: 'queued', ahead: 100, completedPerSecond: 50, meanRunSeconds: 0.5 });
    expect(slow).toBe(11); // 100 / 10 + 0.5, rounded up
    expect(fast).toBe(3); // 100 / 50 + 0.5
    expect(estimateRetryAfter({ phase: 'queued', ahead: 200, completedPerSecond: 10, meanRunSeconds: 0.5 })).toBe(21);
  });

  it('is bounded to 60 s however long the backlog', () => {
    expect(estimateRetryAfter({ phase: 'retrying', ahead: 1e6, completedPerSecond: 1, meanRunSeconds: 2 })).toBe(60);
    expect(estimateRetryAfter({ phase: 'queued', ahead: 10, completedPerSecond: 0, meanRunSeconds: 30 })).toBe(60);
  });

  it('uses the remaining share of the mean run time for a processing job', () => {
    expect(estimateRetryAfter({ ...idle, phase: 'processing', meanRunSeconds: 20, progress: 0.5 })).toBe(10);
    expect(estimateRetryAfter({ ...idle, phase: 'processing', meanRunSeconds: 20, progress: 0.95 })).toBe(1);
    expect(estimateRetryAfter({ ...idle, phase: 'processing', meanRunSeconds: 20 })).toBe(20);
  });

  it('waits until a scheduled job is due, bounded', () => {
    expect(estimateRetryAfter({ ...idle, phase: 'scheduled', secondsUntilRun: 5 })).toBe(6);
    expect(estimateRetryAfter({ ...idle, phase: 'scheduled', secondsUntilRun: 3600 })).toBe(60);
    expect(estimateRetryAfter({ ...idle, phase: 'scheduled', secondsUntilRun: -10, meanRunSeconds: 0.1 })).toBe(1);
  });

  it('waits for a retrying job\'s next attempt, then its queue', () => {
    expect(estimateRetryAfter({ ...idle, phase: 'retrying', secondsUntilRun: 20 })).toBe(21);
    expect(estimateRetryAfter({ phase: 'retrying', ahead: 10, completedPerSecond: 5, meanRunSeconds: 1, secondsUntilRun: 4 })).toBe(7);
    expect(estimateRetryAfter({ ...idle, phase: 'retrying', secondsUntilRun: -3, meanRunSeconds: 0.1 })).toBe(1);
  });

  it('never answers a non-finite or fractional value', () => {
    const value = estimateRetryAfter({ phase: 'queued', ahead: 3, completedPerSecond: Number.MIN_VALUE, meanRunSeconds: 1 });
    expect(value).toBe(60);
    expect(Number.isInteger(estimateRetryAfter({ phase: 'queued', ahead: 1, completedPerSecond: 3, meanRunSeconds: 0.2 }))).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { PoolStatsCache, type PoolStats } from './pool-stats.js';

function counter() {
  let calls = 0;
  let backlog = 0;
  const fetch = async (): Promise<PoolStats> => {
    calls++;
    return { backlog: ++backlog, completedPerSecond: 1, meanRunSeconds: null };
  };
  return { fetch, calls: () => calls };
}

describe('PoolStatsCache', () => {
  it('fetches once per pool per interval, however many callers ask at once', async () => {
    let now = 0;
    const source = counter();
    const cache = new PoolStatsCache(source.fetch, 1000, () => now);
    const results = await Promise.all(Array.from({ length: 10 }, () => cache.get('default', ['noop'])));
    expect(source.calls()).toBe(1);
    expect(results.every((r) => r.backlog === 1)).toBe(true);
    now = 999;
    expect((await cache.get('default', ['noop'])).backlog).toBe(1);
    now = 1000;
    expect((await cache.get('default', ['noop'])).backlog).toBe(2);
    expect(source.calls()).toBe(2);
  });

  it('peek never waits: stale numbers now, fresh ones after the background refresh', async () => {
    let now = 0;
    const source = counter();
    const cache = new PoolStatsCache(source.fetch, 1000, () => now);
    expect(cache.peek('reports', ['report.generate'])).toBeUndefined();
    await Promise.resolve();
    await Promise.resolve();
    expect(cache.peek('reports', ['report.generate'])?.backlog).toBe(1);
    now = 5000;
    expect(cache.peek('reports', ['report.generate'])?.backlog).toBe(1);
    await new Promise((r) => setTimeout(r, 0));
    expect(cache.peek('reports', ['report.generate'])?.backlog).toBe(2);
    expect(source.calls()).toBe(2);
  });

  it('reports a failed background refresh and tries again on the next call', async () => {
    const errors: unknown[] = [];
    let fail = true;
    const cache = new PoolStatsCache(
      async () => {
        if (fail) throw new Error('db down');
        return { backlog: 7, completedPerSecond: 0, meanRunSeconds: null };
      },
      1000,
      () => 0,
      (e) => errors.push(e),
    );
    expect(cache.peek('default', ['noop'])).toBeUndefined();
    await new Promise((r) => setTimeout(r, 0));
    expect(errors).toHaveLength(1);
    fail = false;
    expect((await cache.get('default', ['noop'])).backlog).toBe(7);
  });
});

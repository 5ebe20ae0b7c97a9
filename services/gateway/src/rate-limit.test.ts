import { describe, expect, it } from 'vitest';
import { createRateLimiter, decide, jobCount } from './rate-limit.js';

describe('rate-limit headers', () => {
  it('reports the binding window and no Retry-After while allowed', () => {
    const d = decide([
      { limit: 50, windowSeconds: 1, remaining: 49, resetMs: 900, allowed: true },
      { limit: 600, windowSeconds: 60, remaining: 3, resetMs: 42_100, allowed: true },
    ]);
    expect(d.allowed).toBe(true);
    expect(d.headers).toEqual({
      'RateLimit-Limit': '600',
      'RateLimit-Remaining': '3',
      'RateLimit-Reset': '43',
      'RateLimit-Policy': '50;w=1, 600;w=60',
    });
  });

  it('refuses with Retry-After of at least one second, rounded up, and never a negative remaining', () => {
    const d = decide([{ limit: 5, windowSeconds: 1, remaining: -3, resetMs: 120, allowed: false }]);
    expect(d.allowed).toBe(false);
    expect(d.headers['Retry-After']).toBe('1');
    expect(d.headers['RateLimit-Remaining']).toBe('0');
    expect(decide([{ limit: 5, windowSeconds: 60, remaining: 0, resetMs: 30_001, allowed: false }]).headers['Retry-After']).toBe('31');
  });
});

describe('in-memory rate limiter', () => {
  it('allows the burst within a second, then refuses; keys are independent', async () => {
    const limiter = createRateLimiter({ burst: 3, sustainedPerMinute: 100 });
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await limiter.check('a'));
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, false]);
    expect(results[2]!.headers['RateLimit-Remaining']).toBe('0');
    expect(results[3]!.headers['Retry-After']).toBe('1');
    expect((await limiter.check('b')).allowed).toBe(true);
  });

  it('enforces the sustained per-minute rate below the burst', async () => {
    const limiter = createRateLimiter({ burst: 100, sustainedPerMinute: 2 });
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await limiter.check('k'));
    expect(results.map((r) => r.allowed)).toEqual([true, true, false]);
    expect(results[2]!.headers['RateLimit-Limit']).toBe('2');
    expect(Number(results[2]!.headers['Retry-After'])).toBeGreaterThan(55);
  });

  it('charges a batch\'s further jobs to the sustained window only: the burst counts the request once', async () => {
    const limiter = createRateLimiter({ burst: 2, sustainedPerMinute: 10 });
    expect((await limiter.check('b')).allowed).toBe(true);
    const charged = await limiter.charge('b', 7);
    expect(charged.allowed).toBe(true);
    expect(charged.headers['RateLimit-Remaining']).toBe('2');
    // The burst still has room for one request; the minute has room for two jobs, not three.
    expect((await limiter.check('b')).allowed).toBe(true);
    expect((await limiter.charge('b', 2)).allowed).toBe(false);
    expect((await limiter.check('other')).allowed).toBe(true);
  });
});

describe('jobs counted in a batch body', () => {
  it('is the length of `jobs`, and 1 for anything else (the api answers it with the reason)', () => {
    expect(jobCount(Buffer.from(JSON.stringify({ jobs: [{}, {}, {}] })))).toBe(3);
    for (const body of ['{"jobs":[]}', '{"jobs":"x"}', '[1,2,3]', 'null', '{"jobs":[', '', '\u0000']) expect(jobCount(Buffer.from(body)), body).toBe(1);
  });
});


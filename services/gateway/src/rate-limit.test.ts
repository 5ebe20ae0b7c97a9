import { describe, expect, it } from 'vitest';
import { createRateLimiter, decide } from './rate-limit.js';

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
});

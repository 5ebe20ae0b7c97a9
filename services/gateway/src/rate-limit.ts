import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

/** One window's verdict for one key. */
export interface WindowState {
  limit: number;
  windowSeconds: number;
  remaining: number;
  /** Until this window starts over. */
  resetMs: number;
  allowed: boolean;
}

export interface RateLimitDecision {
  allowed: boolean;
  /** IETF `RateLimit-*` headers (draft-ietf-httpapi-ratelimit-headers), plus `Retry-After` when refused. */
  headers: Record<string, string>;
}

/**
 * Turns window states into the answer's headers. The binding window (fewest requests left, then
 * the latest reset) is the one reported, since that is what the client runs into first.
 */
export function decide(states: readonly WindowState[]): RateLimitDecision {
  if (states.length === 0) throw new Error('no rate-limit windows');
  const binding = [...states].sort((a, b) => a.remaining - b.remaining || b.resetMs - a.resetMs)[0]!;
  const refused = states.filter((s) => !s.allowed);
  const headers: Record<string, string> = {
    'RateLimit-Limit': String(binding.limit),
    'RateLimit-Remaining': String(Math.max(0, binding.remaining)),
    'RateLimit-Reset': String(Math.max(0, Math.ceil(binding.resetMs / 1000))),
    'RateLimit-Policy': states.map((s) => `${s.limit};w=${s.windowSeconds}`).join(', '),
  };
  if (refused.length > 0) {
    // Retrying before every refusing window has reset is pointless; at least one second.
    const waitMs = Math.max(...refused.map((s) => s.resetMs));
    headers['Retry-After'] = String(Math.max(1, Math.ceil(waitMs / 1000)));
  }
  return { allowed: refused.length === 0, headers };
}

export interface RateLimitSettings {
  /** Requests allowed within any one second. */
  burst: number;
  /** Requests allowed per minute. */
  sustainedPerMinute: number;
  /** Shared store across replicas; per-process memory when absent. */
  redis?: Redis;
}

interface Window {
  limiter: RateLimiterAbstract;
  limit: number;
  windowSeconds: number;
}

/**
 * A counter of `points` per `duration` seconds for each key, kept in Redis when given (shared by
 * every replica), else in this process's memory.
 */
export function createStoreLimiter(keyPrefix: string, points: number, duration: number, redis: Redis | undefined): RateLimiterAbstract {
  const options = { keyPrefix, points, duration };
  const memory = new RateLimiterMemory(options);
  // When Redis is unreachable each replica falls back to its own memory: limits loosen by the
  // replica count for a while instead of the whole edge failing closed.
  return redis ? new RateLimiterRedis({ ...options, storeClient: redis, insuranceLimiter: memory, rejectIfRedisNotReady: true }) : memory;
}

function window(name: string, limit: number, windowSeconds: number, redis: Redis | undefined): Window {
  return { limiter: createStoreLimiter(`conveyor:gw:rl:${name}`, limit, windowSeconds, redis), limit, windowSeconds };
}

function toState(w: Window, res: RateLimiterRes, allowed: boolean): WindowState {
  return { limit: w.limit, windowSeconds: w.windowSeconds, remaining: res.remainingPoints, resetMs: res.msBeforeNext, allowed };
}

async function consume(w: Window, key: string, points = 1): Promise<WindowState> {
  try {
    return toState(w, await w.limiter.consume(key, points), true);
  } catch (rejection) {
    if (rejection instanceof RateLimiterRes) return toState(w, rejection, false);
    throw rejection;
  }
}

export interface RateLimiter {
  check(key: string): Promise<RateLimitDecision>;
  /**
   * Charges `units` more to the sustained window after `check` admitted the request: a batch of
   * N jobs costs N of the minute's allowance, as N single submits would. The burst window counts
   * requests (what floods the edge), so a batch is one there.
   */
  charge(key: string, units: number): Promise<RateLimitDecision>;
  /** Jobs one principal may submit per minute: a batch above it could never be admitted. */
  readonly perMinute: number;
}

/** Burst (per second) and sustained (per minute) windows; a request must fit both. */
export function createRateLimiter(settings: RateLimitSettings): RateLimiter {
  const burst = window('burst', settings.burst, 1, settings.redis);
  const sustained = window('sustained', settings.sustainedPerMinute, 60, settings.redis);
  return {
    async check(key) {
      const first = await consume(burst, key);
      // A burst refusal does not also spend the minute's allowance.
      if (!first.allowed) return decide([first]);
      return decide([first, await consume(sustained, key)]);
    },
    perMinute: settings.sustainedPerMinute,
    async charge(key, units) {
      return decide([await consume(sustained, key, units)]);
    },
  };
}

/**
 * Jobs in a batch body, for the rate limit: the length of its `jobs` array, or 1 for a body that is
 * not one (the api then answers it with the reason; the gateway does not validate).
 */
export function jobCount(body: Buffer): number {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { jobs?: unknown } | null;
    return Array.isArray(parsed?.jobs) ? Math.max(1, parsed.jobs.length) : 1;
  } catch {
    return 1;
  }
}

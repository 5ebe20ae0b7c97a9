import type { Redis } from 'ioredis';
import { createStoreLimiter } from '../rate-limit.js';

/**
 * Per-account brute-force protection for POST /auth/login. Failures are counted per account (the
 * email as typed, lower-cased; unknown emails alike, so the answer never tells which exist); after
 * `maxFailures` in a row the account is locked for `lockSeconds`, and each failure after a lockout
 * doubles it, up to `maxLockSeconds`. A success forgets the failures. Counters and locks live in
 * Redis when configured, so every gateway replica sees the same lock.
 */
export interface LoginGuardSettings {
  maxFailures: number;
  lockSeconds: number;
  maxLockSeconds: number;
  redis?: Redis;
}

export type LoginCheck = { locked: false } | { locked: true; retryAfterSeconds: number };

export interface FailureOutcome {
  /** Failures in a row, this one included. */
  failures: number;
  /** Set when this failure locked the account. */
  lockSeconds?: number;
}

export interface LoginGuard {
  check(account: string): Promise<LoginCheck>;
  failed(account: string): Promise<FailureOutcome>;
  succeeded(account: string): Promise<void>;
}

/** A run of failures is forgotten a day after it began, locked or not. */
const FAILURE_MEMORY_SECONDS = 24 * 60 * 60;

/** The lockout after `failures` consecutive failures; 0 while below the threshold. */
export function lockoutSeconds(failures: number, settings: Pick<LoginGuardSettings, 'maxFailures' | 'lockSeconds' | 'maxLockSeconds'>): number {
  if (failures < settings.maxFailures) return 0;
  const doublings = Math.min(failures - settings.maxFailures, 30);
  return Math.min(settings.maxLockSeconds, settings.lockSeconds * 2 ** doublings);
}

export function createLoginGuard(settings: LoginGuardSettings): LoginGuard {
  // Counts failures only: `penalty` never refuses, whatever the count.
  const failures = createStoreLimiter('conveyor:gw:login:failures', Number.MAX_SAFE_INTEGER, FAILURE_MEMORY_SECONDS, settings.redis);
  // One point: `block` puts a key over it for the lockout's duration.
  const locks = createStoreLimiter('conveyor:gw:login:lock', 1, settings.maxLockSeconds, settings.redis);
  const key = (account: string) => account.trim().toLowerCase();
  return {
    async check(account) {
      const lock = await locks.get(key(account));
      if (!lock || lock.consumedPoints <= 1 || lock.msBeforeNext <= 0) return { locked: false };
      return { locked: true, retryAfterSeconds: Math.max(1, Math.ceil(lock.msBeforeNext / 1000)) };
    },
    async failed(account) {
      const count = (await failures.penalty(key(account))).consumedPoints;
      const lockSeconds = lockoutSeconds(count, settings);
      if (lockSeconds === 0) return { failures: count };
      await locks.block(key(account), lockSeconds);
      return { failures: count, lockSeconds };
    },
    async succeeded(account) {
      await Promise.all([failures.delete(key(account)), locks.delete(key(account))]);
    },
  };
}

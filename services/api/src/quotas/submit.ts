/** What a submit carries and answers for the quotas: its concurrency key, and the 429 of a refusal. */
import type { SubmitRefused } from '@conveyor/jobs';
import { HttpError } from '../http-errors.js';

/** The words a 429 uses for each submit quota. */
const LIMIT_WORDS: Record<SubmitRefused['limit'], string> = {
  maxQueued: 'its most waiting jobs (maxQueued)',
  submitsPerMinute: 'its most submits in a minute (submitsPerMinute)',
};

/** 429 naming the limit, with Retry-After: nothing of the refused submit was stored. */
export function quotaRefusal(refused: SubmitRefused): HttpError {
  return new HttpError(
    429,
    `tenant quota exceeded: the tenant has reached ${LIMIT_WORDS[refused.limit]}; nothing was stored, retry after ${refused.retryAfterSeconds} s`,
    { limit: refused.limit, retryAfterSeconds: refused.retryAfterSeconds },
    { 'Retry-After': String(refused.retryAfterSeconds) },
  );
}

interface LimitKeys {
  concurrencyKey?: string;
  concurrencyLimit?: number;
  rateLimitKey?: string;
  rateLimitPerSecond?: number;
}

/** A limit without its key names nothing to limit: 400 naming the field. */
function keyed(key: string | undefined, limit: number | undefined, names: [string, string], what: string) {
  if (key !== undefined) return { key, limit: limit ?? 1 };
  if (limit !== undefined) {
    throw new HttpError(400, `${names[1]} needs a ${names[0]}: it limits the ${what} that share a key`, [
      { code: 'custom', path: [names[1]], message: `only with ${names[0]}` },
    ]);
  }
  return undefined;
}

/** The job's concurrency and rate-limit keys with their limits (1 unless given). */
export function limitKeysOf(body: LimitKeys): LimitKeys {
  const concurrency = keyed(body.concurrencyKey, body.concurrencyLimit, ['concurrencyKey', 'concurrencyLimit'], 'running jobs');
  const rate = keyed(body.rateLimitKey, body.rateLimitPerSecond, ['rateLimitKey', 'rateLimitPerSecond'], 'starts per second of jobs');
  return {
    ...(concurrency ? { concurrencyKey: concurrency.key, concurrencyLimit: concurrency.limit } : {}),
    ...(rate ? { rateLimitKey: rate.key, rateLimitPerSecond: rate.limit } : {}),
  };
}

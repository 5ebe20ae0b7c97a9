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

/** The job's concurrency key and limit (1 unless given); a limit without a key names nothing to limit. */
export function concurrencyOf(body: { concurrencyKey?: string; concurrencyLimit?: number }): { concurrencyKey?: string; concurrencyLimit?: number } {
  if (body.concurrencyKey === undefined) {
    if (body.concurrencyLimit !== undefined) {
      throw new HttpError(400, 'concurrencyLimit needs a concurrencyKey: it limits the running jobs that share a key', [
        { code: 'custom', path: ['concurrencyLimit'], message: 'only with concurrencyKey' },
      ]);
    }
    return {};
  }
  return { concurrencyKey: body.concurrencyKey, concurrencyLimit: body.concurrencyLimit ?? 1 };
}

import { backoffDelay } from '@conveyor/platform';
import type { PublishBatchRequestEntry } from '@aws-sdk/client-sns';

/** One entry SNS refused. A sender fault (the entry itself is wrong) will never succeed on retry. */
export interface EntryFailure {
  id: string;
  code: string;
  message: string;
  senderFault: boolean;
}

export type PublishBatch = (entries: PublishBatchRequestEntry[]) => Promise<EntryFailure[]>;

export interface RetryPolicy {
  attempts: number;
  baseMs: number;
  maxMs: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export class PublishError extends Error {
  constructor(
    message: string,
    readonly failures: EntryFailure[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PublishError';
  }
}

const sleepFor = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Publishes one chunk until SNS accepted every entry, retrying only the entries that failed.
 * Resolves with the entries refused as sender faults (to be set aside, never retried); throws
 * PublishError when retryable failures remain after the last attempt.
 */
export async function publishChunk(
  entries: PublishBatchRequestEntry[],
  publish: PublishBatch,
  { attempts, baseMs, maxMs, sleep = sleepFor, random = Math.random }: RetryPolicy,
): Promise<EntryFailure[]> {
  let pending = entries;
  const refused: EntryFailure[] = [];
  let lastError: unknown;
  let lastFailures: EntryFailure[] = [];
  for (let attempt = 0; attempt < attempts && pending.length > 0; attempt++) {
    if (attempt > 0) await sleep(backoffDelay(attempt + 1, { baseMs, maxMs }, random));
    try {
      const failures = await publish(pending);
      refused.push(...failures.filter((f) => f.senderFault));
      const retry = new Set(failures.filter((f) => !f.senderFault).map((f) => f.id));
      pending = pending.filter((e) => retry.has(e.Id!));
      lastFailures = failures.filter((f) => !f.senderFault);
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
  }
  if (pending.length > 0) {
    throw new PublishError(`SNS did not accept ${pending.length} of ${entries.length} entries after ${attempts} attempts`, lastFailures, {
      cause: lastError,
    });
  }
  return refused;
}

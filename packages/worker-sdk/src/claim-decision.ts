import { isTerminal, type UnclaimedJob } from '@conveyor/jobs';

export type { UnclaimedJob };

/**
 * Why a delivered message did not start its job, and what to do with the message:
 * - `ack`: nothing for this message to run (finished, running elsewhere, or waiting for a message
 *   the scheduler will send when it is due): delete it.
 * - `cancel`: cancelled before it started: record `cancelled`, delete the message.
 * - `exhausted`: its worker died during the last attempt: record `failed`, the message goes to the DLQ.
 * - `poison`: no such job: the message goes to the DLQ.
 * - `not due`: dispatched ahead of its run_at, which is still ahead by the database's clock (this
 *   worker's clock runs fast, or the message came without its run time): retry when it is due.
 * - `paused`: runnable but its pool is paused: hand the message back (visible again at once, for
 *   whichever worker receives after the resume) and tell the poller to stop receiving.
 * - `held`: runnable but its job type or tenant is paused (pauses.ts): hold the job in Postgres
 *   (holdJob) and delete the message; the resume sends it again. No receives while it waits.
 * - `limited`: runnable but a start limit holds it (its tenant's max running, its concurrency
 *   key's or its rate-limit key's, design.md "Quotas and concurrency limits"): send the message again after a short
 *   jittered backoff, so it tries again soon after a slot frees.
 * - `later`: not runnable yet (a lost race with a claim being written): retry after a while.
 */
export type UnclaimedAction = 'ack' | 'cancel' | 'exhausted' | 'poison' | 'not due' | 'paused' | 'held' | 'limited' | 'later';

export function decideUnclaimed(job: UnclaimedJob | undefined, leaseSeconds: number): UnclaimedAction {
  if (!job) return 'poison';
  if (isTerminal(job.status)) return 'ack';
  const live = job.status === 'processing' && job.heartbeatAgeMs !== null && job.heartbeatAgeMs < leaseSeconds * 1000;
  // A live run owns the job (and aborts it itself when cancelled): this delivery is a duplicate.
  if (live) return 'ack';
  if (job.cancelRequested) return 'cancel';
  // Its run died during the last attempt: one more would exceed maxAttempts.
  if (job.status === 'processing' && job.attempts >= job.maxAttempts) return 'exhausted';
  const ahead = job.dueInMs !== null && job.dueInMs > 0;
  // The scheduler sends a delayed job when it is due, and so a failed job's next attempt (this is
  // the old attempt's message: its worker stopped between storing the retry and deleting it).
  if (job.status === 'scheduled' || (job.status === 'retrying' && ahead)) return 'ack';
  if (job.poolPaused) return 'paused';
  if (ahead) return 'not due';
  if (job.paused) return 'held';
  if (job.startLimit) return 'limited';
  // Claimable but not claimed: the row changed between the claim and this read.
  return 'later';
}

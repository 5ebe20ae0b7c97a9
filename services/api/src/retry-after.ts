import type { Phase } from '@conveyor/jobs';

export const RETRY_AFTER_MIN_SECONDS = 1;
export const RETRY_AFTER_MAX_SECONDS = 60;
/** Assumed run time of one job when nothing of its pool finished recently. */
const DEFAULT_RUN_SECONDS = 1;

/** What is known about a job's wait; every field comes from the database, nothing is guessed here. */
export interface WaitEstimateInput {
  phase: Phase;
  /** Queued or retrying jobs of the same worker pool that were created before this one. */
  ahead: number;
  /** Jobs of the pool finished during the last minute, per second. */
  completedPerSecond: number;
  /** Mean run time of the pool's recently finished jobs; `null` when none finished. */
  meanRunSeconds: number | null;
  /** The job's reported progress between 0 and 1, if any. */
  progress?: number | null;
  /** For a scheduled job, or a retrying one (its next attempt): how long until it is due. */
  secondsUntilRun?: number | null;
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

/**
 * Seconds a client should wait before polling again: the time for the backlog ahead of the job
 * to drain at the pool's recent completion rate, plus the job's own run time; bounded to 1..60 s
 * so clients neither hammer the api nor wait long past completion.
 */
export function estimateRetryAfter(input: WaitEstimateInput): number {
  const run = input.meanRunSeconds ?? DEFAULT_RUN_SECONDS;
  const queueWait = input.completedPerSecond > 0 ? input.ahead / input.completedPerSecond : input.ahead * run;
  let seconds: number;
  switch (input.phase) {
    case 'scheduled':
      seconds = Math.max(0, input.secondsUntilRun ?? 0) + run;
      break;
    case 'processing':
      seconds = run * (1 - clamp(input.progress ?? 0, 0, 1));
      break;
    case 'queued':
      seconds = queueWait + run;
      break;
    case 'retrying':
      seconds = Math.max(0, input.secondsUntilRun ?? 0) + queueWait + run;
      break;
  }
  if (!Number.isFinite(seconds)) return RETRY_AFTER_MAX_SECONDS;
  // The epsilon keeps float noise (20 * 0.05 = 1.0000000000000009) from adding a second.
  return clamp(Math.ceil(seconds - 1e-9), RETRY_AFTER_MIN_SECONDS, RETRY_AFTER_MAX_SECONDS);
}

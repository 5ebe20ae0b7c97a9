import type { Response } from 'express';
import { isTerminal, type JobStatus, type Phase } from '@conveyor/jobs';
import { jobPath } from '../job-view.js';
import type { PoolStatsCache } from '../pool-stats.js';
import { estimateRetryAfter } from '../retry-after.js';

/** The pool a job's type runs in (JobTypeRegistry.poolOf: platform and team pools alike). */
export interface JobPool {
  name: string;
  jobTypes: readonly string[];
}

/**
 * Retry-After for a job just accepted, from cached pool stats only: the accepting request keeps
 * its single round trip to Postgres. A new job is the newest, so the whole backlog is ahead of it.
 */
export function acceptedRetryAfter(stats: PoolStatsCache, pool: JobPool | undefined, status: JobStatus, runAt: Date | undefined, now: Date): number {
  if (isTerminal(status)) return 1;
  const known = pool ? stats.peek(pool.name, pool.jobTypes) : undefined;
  return estimateRetryAfter({
    phase: status as Phase,
    ahead: known?.backlog ?? 0,
    completedPerSecond: known?.completedPerSecond ?? 0,
    meanRunSeconds: known?.meanRunSeconds ?? null,
    secondsUntilRun: runAt ? (runAt.getTime() - now.getTime()) / 1000 : null,
  });
}

/** The 202 every job-creating route answers: body, Location and Retry-After. */
export function sendAccepted(res: Response, jobId: string, retryAfter: number, extra: Record<string, unknown> = {}): void {
  const statusUrl = jobPath(jobId);
  res.set({ Location: statusUrl, 'Retry-After': String(retryAfter) });
  res.status(202).json({ jobId, statusUrl, ...extra });
}

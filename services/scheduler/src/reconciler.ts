import type { Logger } from '@conveyor/platform';
import type { Queryable } from '@conveyor/jobs';
import { countUnpublished, recoverStaleProcessing } from './stale-jobs.repo.js';
import type { LostMessageCheck } from './lost-messages/lost-messages.js';
import type { SchedulerMetrics } from './metrics.js';
import { startPeriodic } from './periodic.js';

export interface ReconcilerOptions {
  db: Queryable;
  logger: Logger;
  metrics: SchedulerMetrics;
  intervalMs: number;
  batchSize: number;
  processingLeaseSeconds: number;
  /** Finds jobs whose message is lost and re-sends them (lost-messages.ts); absent, none are. */
  lostMessages?: LostMessageCheck;
  /** Called when a pass changed jobs (and so wrote job_events rows): the outbox signal. */
  written?: () => void;
  /** Aborted when this replica stops leading: no step starts after that. */
  signal?: AbortSignal;
}

export interface ReconcileSummary {
  requeued: number;
  finished: number;
  redriven: number;
  unpublished: number;
}

/** One pass: each step in bounded batches so a large backlog is healed over several passes, cheaply. */
export async function reconcileOnce(options: Omit<ReconcilerOptions, 'intervalMs'>): Promise<ReconcileSummary> {
  const { db, logger, metrics, batchSize, processingLeaseSeconds, signal } = options;
  const stale = signal?.aborted ? [] : await recoverStaleProcessing(db, processingLeaseSeconds, batchSize);
  let requeued = 0;
  for (const job of stale) {
    if (job.status === 'queued') {
      requeued++;
      metrics.redrives.inc({ reason: 'heartbeat_expired' });
      logger.warn({ job_id: job.id, worker: job.lockedBy, attempts: job.attempts, reason: 'heartbeat_expired' }, 're-driven a job whose worker stopped heartbeating');
    } else {
      metrics.staleFinished.inc({ status: job.status });
      logger.warn({ job_id: job.id, worker: job.lockedBy, status: job.status, reason: 'heartbeat_expired' }, 'finished a job whose worker stopped heartbeating');
    }
  }
  const lost = signal?.aborted || !options.lostMessages ? [] : await options.lostMessages(signal);
  for (const job of lost) {
    metrics.redrives.inc({ reason: 'message_lost' });
    logger.warn({ job_id: job.id, previous_status: job.previousStatus, reason: 'message_lost' }, 're-sent a job whose message is not in its queue');
  }
  if (stale.length + lost.length > 0) options.written?.();
  const unpublished = await countUnpublished(db);
  metrics.unpublished.set(unpublished);
  return { requeued, finished: stale.length - requeued, redriven: lost.length, unpublished };
}

/** Runs reconcileOnce every interval; a failed pass is logged and counted, and the next one runs. */
export function startReconciler(options: ReconcilerOptions): { stop(): Promise<void> } {
  return startPeriodic(options.intervalMs, () => reconcileOnce(options), (error) => {
    options.metrics.loopErrors.inc({ loop: 'reconciler' });
    options.logger.error({ err: error }, 'reconcile pass failed');
  });
}

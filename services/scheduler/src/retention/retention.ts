import { Counter, Gauge, type Logger, type Registry } from '@conveyor/platform';
import { deleteResults, type Queryable, type ResultBucket } from '@conveyor/jobs';
import { startPeriodic } from '../periodic.js';
import type { FinishedJobsRule } from './policy.js';
import { deleteFinishedJobs, deleteNotifications, expireResults, forgetIdempotencyKeys, readTableStats, type TableStats } from './retention.repo.js';

export interface RetentionPolicy {
  finishedJobs: FinishedJobsRule[];
  /** null keeps forever. */
  idempotencyKeySeconds: number | null;
  notificationSeconds: number | null;
}

export interface RetentionOptions {
  db: Queryable;
  policy: RetentionPolicy;
  /** Rows per statement: short transactions, so no lock is held long and autovacuum keeps up. */
  batchSize: number;
  /** Where large results live; their objects are deleted with their jobs. */
  results?: ResultBucket;
  logger: Logger;
  metrics: RetentionMetrics;
  /** Aborted when this replica stops leading: no batch starts after that. */
  signal?: AbortSignal;
}

export interface RetentionSummary {
  jobs: number;
  /** Results dropped past their job type's resultRetentionSeconds (the jobs stay). */
  expiredResults: number;
  resultObjects: number;
  idempotencyKeys: number;
  notifications: number;
}

async function deleteResultObjects(results: NonNullable<RetentionOptions['results']>, keys: string[], logger: Logger): Promise<number> {
  const { deleted, failed } = await deleteResults(results, keys);
  // The rows are gone already; an object left behind is what the bucket's lifecycle rule is for.
  for (const { key, code } of failed) logger.warn({ key, code }, 'result object of a deleted job not deleted');
  return deleted;
}

/** Repeats a batched statement until a batch comes back short (or this replica stops leading). */
async function drain(signal: AbortSignal | undefined, batchSize: number, batch: () => Promise<number>): Promise<number> {
  let total = 0;
  for (;;) {
    if (signal?.aborted) return total;
    const done = await batch();
    total += done;
    if (done < batchSize) return total;
  }
}

/** One pass: everything past its policy, in batches of `batchSize`. */
export async function retentionPass(options: RetentionOptions): Promise<RetentionSummary> {
  const { db, policy, batchSize, results, logger, metrics, signal } = options;
  const summary: RetentionSummary = { jobs: 0, expiredResults: 0, resultObjects: 0, idempotencyKeys: 0, notifications: 0 };
  // Rows first, then their objects: an object a failed delete leaves behind belongs to no row.
  const removeObjects = async (keys: string[]) => {
    if (!results || keys.length === 0) return;
    const objects = await deleteResultObjects(results, keys, logger);
    summary.resultObjects += objects;
    metrics.removed.inc({ table: 'results' }, objects);
  };
  let from: Date | null = null;
  summary.jobs = await drain(signal, batchSize, async () => {
    const deleted = await deleteFinishedJobs(db, policy.finishedJobs, from, batchSize);
    from = deleted.reached ?? from;
    metrics.removed.inc({ table: 'jobs' }, deleted.count);
    await removeObjects(deleted.resultKeys);
    return deleted.count;
  });
  summary.expiredResults = await drain(signal, batchSize, async () => {
    const expired = await expireResults(db, batchSize);
    metrics.removed.inc({ table: 'expired_results' }, expired.count);
    await removeObjects(expired.resultKeys);
    return expired.count;
  });
  const keys = policy.idempotencyKeySeconds;
  if (keys !== null) {
    summary.idempotencyKeys = await drain(signal, batchSize, () => forgetIdempotencyKeys(db, keys, batchSize));
    metrics.removed.inc({ table: 'idempotency_keys' }, summary.idempotencyKeys);
  }
  const notices = policy.notificationSeconds;
  if (notices !== null) {
    summary.notifications = await drain(signal, batchSize, () => deleteNotifications(db, notices, batchSize));
    metrics.removed.inc({ table: 'notifications' }, summary.notifications);
  }
  if (Object.values(summary).some((n) => n > 0)) logger.info(summary, 'retention removed what outlived its policy');
  return summary;
}

export function startRetention(options: RetentionOptions & { intervalMs: number; onError: () => void }): { stop(): Promise<void> } {
  return startPeriodic(options.intervalMs, () => retentionPass(options), (error) => {
    options.onError();
    options.logger.error({ err: error }, 'retention pass failed');
  });
}

/** The longest any row of a table may be kept: the alert's yardstick. Absent when kept forever. */
export function longestKeep(policy: RetentionPolicy): Record<string, number> {
  const keeps: Record<string, number> = {};
  const jobs = policy.finishedJobs.map((r) => r.keepSeconds);
  if (!jobs.includes(null)) keeps.jobs = keeps.job_events = Math.max(...(jobs as number[]));
  if (policy.notificationSeconds !== null && keeps.jobs !== undefined) keeps.notifications = Math.min(policy.notificationSeconds, keeps.jobs);
  else if (policy.notificationSeconds !== null) keeps.notifications = policy.notificationSeconds;
  return keeps;
}

export function createRetentionMetrics(registry: Registry, db: Queryable, policy: RetentionPolicy) {
  const removed = new Counter({
    name: 'conveyor_retention_removed_total',
    help: 'Rows (and result objects) removed by retention, by table (jobs, notifications, idempotency_keys, results, expired_results: results dropped from jobs kept).',
    labelNames: ['table'] as const,
    registers: [registry],
  });
  for (const table of ['jobs', 'notifications', 'idempotency_keys', 'results', 'expired_results']) removed.inc({ table }, 0);
  const keep = new Gauge({
    name: 'conveyor_retention_keep_seconds',
    help: 'The longest a row of the table may be kept by the retention policy (absent: kept forever).',
    labelNames: ['table'] as const,
    registers: [registry],
  });
  for (const [table, seconds] of Object.entries(longestKeep(policy))) keep.set({ table }, seconds);

  let last: TableStats[] = [];
  let inFlight: Promise<TableStats[]> | undefined;
  // The three gauges collect in parallel during one scrape: they share one query. A database that
  // does not answer leaves the last figures rather than failing the whole scrape.
  const stats = () =>
    (inFlight ??= readTableStats(db)
      .then((rows) => (last = rows), () => last)
      .finally(() => (inFlight = undefined)));
  const gauge = (name: string, help: string, pick: (s: TableStats) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['table'] as const,
      registers: [registry],
      async collect() {
        for (const s of await stats()) this.set({ table: s.table }, pick(s));
      },
    });
  gauge('conveyor_table_rows', 'Rows in the table (the planner\'s estimate, refreshed by (auto)analyze).', (s) => s.rows);
  gauge('conveyor_table_bytes', 'Size of the table with its indexes and TOAST, in bytes.', (s) => s.bytes);
  gauge('conveyor_table_oldest_row_seconds', 'Age of the oldest row retention will remove (for jobs: the longest-finished job).', (s) => s.oldestSeconds);
  return { removed };
}

export type RetentionMetrics = ReturnType<typeof createRetentionMetrics>;

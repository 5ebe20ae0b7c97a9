import type { JobStatus, Queryable } from '@conveyor/jobs';
import type { JobEventRow } from './sse.format.js';

/** The job if `tenant` may see it (`null` tenant = an admin reading across tenants). */
export async function findVisibleJob(
  db: Queryable,
  jobId: string,
  tenant: string | null,
): Promise<{ id: string; status: JobStatus } | undefined> {
  const { rows } = await db.query<{ id: string; status: JobStatus }>(
    'SELECT id, status FROM jobs WHERE id = $1 AND ($2::text IS NULL OR tenant = $2)',
    [jobId, tenant],
  );
  return rows[0];
}

/**
 * The job's events after `afterId`, oldest first; `limit` keeps one catch-up query bounded. Ordered
 * by the column, not the text alias `id` (text order puts "10" before "9").
 */
export async function eventsAfter(db: Queryable, jobId: string, afterId: string, limit: number): Promise<JobEventRow[]> {
  const { rows } = await db.query<{ id: string; type: string; data: unknown; created_at: Date }>(
    `SELECT id::text AS id, type, data, created_at FROM job_events
      WHERE job_id = $1 AND id > $2::bigint ORDER BY job_events.id LIMIT $3`,
    [jobId, afterId, limit],
  );
  return rows.map((r) => ({ id: r.id, jobId, type: r.type, data: r.data, createdAt: r.created_at }));
}

/** The newest event id (0 without any): where a feed without Last-Event-ID starts. */
export async function latestEventId(db: Queryable): Promise<bigint> {
  const { rows } = await db.query<{ id: string }>('SELECT coalesce(max(id), 0)::text AS id FROM job_events');
  return BigInt(rows[0]?.id ?? '0');
}

/**
 * Every event after `afterId` of the jobs `tenant` may read (`null`: every tenant), oldest first.
 * Walks the job_events primary key from `afterId` (the feed keeps it near the newest) and joins
 * each event's job by its key for the tenant: a read of the events since, not of either table.
 */
export async function feedEventsAfter(db: Queryable, tenant: string | null, afterId: string, limit: number): Promise<JobEventRow[]> {
  const { rows } = await db.query<{ id: string; job_id: string; type: string; data: unknown; created_at: Date }>({
    name: 'events.feed-after',
    text: `SELECT e.id::text AS id, e.job_id, e.type, e.data, e.created_at FROM job_events e JOIN jobs j ON j.id = e.job_id
      WHERE e.id > $2::bigint AND ($1::text IS NULL OR j.tenant = $1) ORDER BY e.id LIMIT $3`,
    values: [tenant, afterId, limit],
  });
  return rows.map((r) => ({ id: r.id, jobId: r.job_id, type: r.type, data: r.data, createdAt: r.created_at }));
}

export interface FinishedJob {
  id: string;
  tenant: string;
  owner: string;
  type: string;
  callbackUrl: string | null;
  error: string | null;
  finishedAt: Date | null;
}

/** The jobs of one batch of events, by id; ids of jobs that no longer exist are absent. */
export async function findFinishedJobs(db: Queryable, jobIds: readonly string[]): Promise<Map<string, FinishedJob>> {
  if (jobIds.length === 0) return new Map();
  const { rows } = await db.query<FinishedJob>({
    name: 'notifications.find-finished-jobs',
    text: `SELECT id, tenant, owner, type, callback_url AS "callbackUrl", error, finished_at AS "finishedAt"
       FROM jobs WHERE id = ANY($1::uuid[])`,
    values: [[...new Set(jobIds)]],
  });
  return new Map(rows.map((job) => [job.id, job]));
}

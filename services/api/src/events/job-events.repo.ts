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

import type { Pool } from '@conveyor/platform';
import type { JobStatus } from '@conveyor/jobs';
import type { JobEventRow } from './sse.format.js';

type Queryable = Pick<Pool, 'query'>;

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

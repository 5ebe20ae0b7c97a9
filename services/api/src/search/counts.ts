/** GET /jobs/counts: how many jobs are in each status, counted up to a cap so a large table stays cheap. */
import { JOB_STATUSES, type JobStatus, type Query, type Queryable } from '@conveyor/jobs';

/** The most jobs counted per status; past it a count reads `capped` ("10,000+"). */
export const MAX_COUNT = 10_000;

export interface CountSearch {
  /** `null`: every tenant (scope conveyor:admin). */
  tenant: string | null;
  type?: string;
  /** Jobs carrying all of these. */
  tags?: readonly string[];
  from?: Date;
  to?: Date;
  /** Count up to this many per status (1..MAX_COUNT). */
  limit: number;
}

export interface StatusCounts {
  counts: Record<JobStatus, number>;
  /** The statuses holding more jobs than `limit`: their count is `limit`, read "at least". */
  capped: JobStatus[];
  limit: number;
}

/**
 * One statement, one capped count per status. Each count is `count(*)` over a subquery with
 * LIMIT limit+1, walking jobs_tenant_status_created for (tenant, status) within the time range, so
 * no count reads more than limit+1 matching index entries, however big the table: an index-only
 * scan without type or tags. A type or tags filter is checked on each row the walk reaches (heap),
 * and the walk still stops at limit+1 matches.
 *
 * Every tenant (an admin's count) has no index with status first; the tenants are found by a loose
 * index scan of jobs_tenant_created (one probe per tenant, not a read of the table), and each
 * status walks tenant by tenant, stopping once limit+1 jobs were found in all.
 */
export function countJobsQuery(search: CountSearch): Query {
  const values: unknown[] = [JOB_STATUSES, search.limit + 1];
  const param = (value: unknown) => {
    values.push(value);
    return `$${values.length}`;
  };
  const where = ['j.tenant = t.tenant', 'j.status = s.status'];
  if (search.type) where.push(`j.type = ${param(search.type)}`);
  if (search.tags && search.tags.length > 0) where.push(`j.tags @> ${param(search.tags)}::text[]`);
  if (search.from) where.push(`j.created_at >= ${param(search.from)}`);
  if (search.to) where.push(`j.created_at < ${param(search.to)}`);
  const tenants =
    search.tenant === null
      ? `RECURSIVE tenants(tenant) AS (
           (SELECT tenant FROM jobs ORDER BY tenant LIMIT 1)
           UNION ALL
           SELECT (SELECT n.tenant FROM jobs n WHERE n.tenant > t.tenant ORDER BY n.tenant LIMIT 1) FROM tenants t WHERE t.tenant IS NOT NULL)`
      : `tenants(tenant) AS (SELECT ${param(search.tenant)}::text)`;
  return {
    text: `WITH ${tenants}
      SELECT s.status, (SELECT count(*)::int FROM (
          SELECT 1 FROM tenants t CROSS JOIN LATERAL (SELECT 1 FROM jobs j WHERE ${where.join(' AND ')} LIMIT $2) m
           WHERE t.tenant IS NOT NULL LIMIT $2) c) AS jobs
        FROM unnest($1::text[]) AS s(status)`,
    values,
  };
}

export async function countJobs(db: Queryable, search: CountSearch): Promise<StatusCounts> {
  const { rows } = await db.query<{ status: JobStatus; jobs: number }>(countJobsQuery(search));
  const counts = Object.fromEntries(JOB_STATUSES.map((status) => [status, 0])) as Record<JobStatus, number>;
  const capped: JobStatus[] = [];
  for (const row of rows) {
    counts[row.status] = Math.min(row.jobs, search.limit);
    if (row.jobs > search.limit) capped.push(row.status);
  }
  return { counts, capped, limit: search.limit };
}

/** The search's one statement: parameterised, keyset-paged on (created_at, id). */
import { CURSOR_AT, JOB_COLUMNS, type JobRow, type JobStatus, type Query, type Queryable } from '@conveyor/jobs';
import type { Cursor } from '../cursor.js';

export interface JobSearch {
  /** `null`: every tenant (scope conveyor:admin). */
  tenant: string | null;
  statuses?: readonly JobStatus[];
  type?: string;
  /** Jobs carrying all of these. */
  tags?: readonly string[];
  from?: Date;
  to?: Date;
  idempotencyKey?: string;
  ascending: boolean;
  after?: Cursor;
  limit: number;
}

/**
 * Ordered by (created_at, id), the order of the jobs_tenant_* and jobs_created indexes; one row
 * more than asked tells whether a next page exists. The keyset (not an offset) keeps pages stable
 * while jobs arrive: a newer job sorts before every newest-first cursor, and after every row an
 * oldest-first page has shown.
 */
export function searchJobsQuery(search: JobSearch): Query {
  const values: unknown[] = [];
  const where: string[] = [];
  const param = (value: unknown) => {
    values.push(value);
    return `$${values.length}`;
  };
  if (search.tenant !== null) where.push(`tenant = ${param(search.tenant)}`);
  if (search.statuses) where.push(`status = ANY(${param(search.statuses)}::text[])`);
  if (search.type) where.push(`type = ${param(search.type)}`);
  if (search.tags) where.push(`tags @> ${param(search.tags)}::text[]`);
  if (search.from) where.push(`created_at >= ${param(search.from)}`);
  if (search.to) where.push(`created_at < ${param(search.to)}`);
  if (search.idempotencyKey) where.push(`idempotency_key = ${param(search.idempotencyKey)}`);
  if (search.after) {
    const at = param(search.after.createdAt);
    const id = param(search.after.id);
    where.push(`(created_at, id) ${search.ascending ? '>' : '<'} (${at}::timestamptz, ${id}::uuid)`);
  }
  const direction = search.ascending ? 'ASC' : 'DESC';
  return {
    text: `SELECT ${JOB_COLUMNS}, ${CURSOR_AT} FROM jobs WHERE ${where.length ? where.join(' AND ') : 'true'}
           ORDER BY created_at ${direction}, id ${direction} LIMIT ${param(search.limit + 1)}`,
    values,
  };
}

export async function searchJobs(db: Queryable, search: JobSearch): Promise<{ rows: JobRow[]; next?: Cursor }> {
  const { rows } = await db.query<JobRow & { cursorAt: string }>(searchJobsQuery(search));
  const page = rows.slice(0, search.limit);
  const last = page[page.length - 1];
  const next = rows.length > search.limit && last ? { createdAt: last.cursorAt, id: last.jobId, ascending: search.ascending } : undefined;
  return { rows: page.map(({ cursorAt: _cursorAt, ...row }) => row), next };
}

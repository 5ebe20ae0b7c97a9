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
 *
 * With tags, a leading tag (see leadingTag) may lead: its job_tags rows, in the same (created_at,
 * id) order, with tenant, time range and keyset applied to them, so the page is read from that
 * index however rare the tag. The job is joined on its id alone (one more equality would make the
 * planner expect almost no rows and give up walking in order); the other tags are checked on it.
 * Without a leading tag the jobs indexes lead and every tag is checked on the job.
 */
export function searchJobsQuery(search: JobSearch, leadTag?: string): Query {
  const values: unknown[] = [];
  const where: string[] = [];
  const param = (value: unknown) => {
    values.push(value);
    return `$${values.length}`;
  };
  const checkedTags = (search.tags ?? []).filter((tag) => tag !== leadTag);
  const lead =
    leadTag === undefined
      ? { from: 'jobs', tenant: 'jobs.tenant', at: 'jobs.created_at', id: 'jobs.id' }
      : { from: 'job_tags t JOIN jobs ON jobs.id = t.job_id', tenant: 't.tenant', at: 't.created_at', id: 't.job_id' };
  if (leadTag !== undefined) where.push(`t.tag = ${param(leadTag)}`);
  if (checkedTags.length > 0) where.push(`jobs.tags @> ${param(checkedTags)}::text[]`);
  if (search.tenant !== null) where.push(`${lead.tenant} = ${param(search.tenant)}`);
  if (search.statuses) where.push(`jobs.status = ANY(${param(search.statuses)}::text[])`);
  if (search.type) where.push(`jobs.type = ${param(search.type)}`);
  if (search.from) where.push(`${lead.at} >= ${param(search.from)}`);
  if (search.to) where.push(`${lead.at} < ${param(search.to)}`);
  if (search.idempotencyKey) where.push(`jobs.idempotency_key = ${param(search.idempotencyKey)}`);
  if (search.after) {
    const at = param(search.after.createdAt);
    const id = param(search.after.id);
    where.push(`(${lead.at}, ${lead.id}) ${search.ascending ? '>' : '<'} (${at}::timestamptz, ${id}::uuid)`);
  }
  const direction = search.ascending ? 'ASC' : 'DESC';
  return {
    text: `SELECT ${JOB_COLUMNS}, ${CURSOR_AT} FROM ${lead.from} WHERE ${where.length ? where.join(' AND ') : 'true'}
           ORDER BY ${lead.at} ${direction}, ${lead.id} ${direction} LIMIT ${param(search.limit + 1)}`,
    values,
  };
}

/** Past this many jobs a tag no longer leads a search that also filters by status or type. */
export const COMMON_TAG_JOBS = 10_000;

/**
 * The tag whose job_tags rows lead the search: the rarest of those given (counted up to
 * COMMON_TAG_JOBS, an index-only read). With a status or type as well, a common tag leads no more:
 * its rows would each cost a lookup of their job to check what job_tags does not hold, while the
 * jobs index of that filter walks in order and checks the tag in the row.
 */
export async function leadingTag(db: Queryable, search: JobSearch): Promise<string | undefined> {
  const tags = search.tags ?? [];
  const filtered = Boolean(search.statuses || search.type);
  if (tags.length === 0 || (tags.length === 1 && !filtered)) return tags[0];
  const { rows } = await db.query<{ tag: string; jobs: number }>(
    `SELECT x.tag, (SELECT count(*)::int FROM (SELECT 1 FROM job_tags t WHERE ($1::text IS NULL OR t.tenant = $1) AND t.tag = x.tag LIMIT $3) c) AS jobs
       FROM unnest($2::text[]) AS x(tag)`,
    [search.tenant, tags, COMMON_TAG_JOBS],
  );
  const rarest = rows.reduce((a, b) => (b.jobs < a.jobs ? b : a));
  return filtered && rarest.jobs >= COMMON_TAG_JOBS ? undefined : rarest.tag;
}

export async function searchJobs(db: Queryable, search: JobSearch): Promise<{ rows: JobRow[]; next?: Cursor }> {
  const { rows } = await db.query<JobRow & { cursorAt: string }>(searchJobsQuery(search, await leadingTag(db, search)));
  const page = rows.slice(0, search.limit);
  const last = page[page.length - 1];
  const next = rows.length > search.limit && last ? { createdAt: last.cursorAt, id: last.jobId, ascending: search.ascending } : undefined;
  return { rows: page.map(({ cursorAt: _cursorAt, ...row }) => row), next };
}

/** Dead letters are jobs that ended `failed`: their last message sits in their pool's DLQ. */
import { WORKER_POOLS, type Queryable } from '@conveyor/jobs';
import type { Cursor } from '../cursor.js';
import { RETRY_SET } from '../retry/queries.js';
import { MAX_REDRIVE, type DeadLetterFilter, type RedriveSelection } from './schemas.js';

export interface DeadLetterRow {
  jobId: string;
  type: string;
  tenant: string;
  attempts: number;
  maxAttempts: number;
  error: string | null;
  diedAt: Date;
  createdAt: Date;
  tags: string[];
  cursorAt: string;
}

/** Conditions on a `failed` job row, numbered after `values` (which they extend). */
function filterWhere(filter: DeadLetterFilter, values: unknown[]): string[] {
  const param = (value: unknown) => {
    values.push(value);
    return `$${values.length}`;
  };
  const where = [`status = 'failed'`, 'finished_at IS NOT NULL'];
  if (filter.pool) where.push(`type = ANY(${param(WORKER_POOLS.find((p) => p.name === filter.pool)!.jobTypes)}::text[])`);
  if (filter.type) where.push(`type = ${param(filter.type)}`);
  if (filter.tenant) where.push(`tenant = ${param(filter.tenant)}`);
  // ILIKE with the pattern's own wildcards escaped: the text is matched as written.
  if (filter.error) where.push(`error ILIKE ${param(`%${filter.error.replace(/[\\%_]/g, (c) => `\\${c}`)}%`)}`);
  if (filter.from) where.push(`finished_at >= ${param(filter.from)}::timestamptz`);
  if (filter.to) where.push(`finished_at < ${param(filter.to)}::timestamptz`);
  return where;
}

/** Newest death first, keyset-paged on (finished_at, id) (index jobs_dead). */
export async function listDeadLetters(db: Queryable, filter: DeadLetterFilter, after: Cursor | undefined, limit: number) {
  const values: unknown[] = [];
  const where = filterWhere(filter, values);
  if (after) {
    values.push(after.createdAt, after.id);
    where.push(`(finished_at, id) < ($${values.length - 1}::timestamptz, $${values.length}::uuid)`);
  }
  values.push(limit + 1);
  const { rows } = await db.query<DeadLetterRow>(
    `SELECT id AS "jobId", type, tenant, attempts, max_attempts AS "maxAttempts", error, finished_at AS "diedAt",
            created_at AS "createdAt", tags,
            to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS "cursorAt"
       FROM jobs WHERE ${where.join(' AND ')}
      ORDER BY finished_at DESC, id DESC LIMIT $${values.length}`,
    values,
  );
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  // The cursor's createdAt field carries the death time here: the same opaque keyset position.
  const next = rows.length > limit && last ? { createdAt: last.cursorAt, id: last.jobId, ascending: false } : undefined;
  return { rows: page, next };
}

/**
 * Requeues the selected dead letters in one statement, as POST /jobs/{id}/retry does one job
 * (RETRY_SET, a `retried` event naming who and which redrive), oldest death first, at most
 * MAX_REDRIVE. Rows are locked, and only a job still `failed` changes: two redrives racing requeue
 * each job once.
 */
export async function requeueDeadLetters(db: Queryable, selection: RedriveSelection, by: string, redriveId: string) {
  const values: unknown[] = [by, redriveId];
  let where: string[];
  if ('jobIds' in selection) {
    values.push(selection.jobIds);
    where = [`status = 'failed'`, `id = ANY($${values.length}::uuid[])`];
  } else {
    where = filterWhere('filter' in selection ? selection.filter : {}, values);
  }
  values.push(MAX_REDRIVE);
  const { rows } = await db.query<{ matched: number; requeued: number }>(
    `WITH target AS (
       SELECT id FROM jobs WHERE ${where.join(' AND ')} ORDER BY finished_at, id LIMIT $${values.length} FOR UPDATE
     ), changed AS (
       UPDATE jobs j SET ${RETRY_SET} FROM target t WHERE j.id = t.id AND j.status = 'failed'
       RETURNING j.id, j.attempts + 1 AS attempt
     ), event AS (
       INSERT INTO job_events (job_id, type, data)
       SELECT id, 'retried', jsonb_build_object('by', $1::text, 'manual', true, 'previous', 'failed', 'attempt', attempt, 'redrive', $2::text) FROM changed
     )
     SELECT (SELECT count(*)::int FROM target) AS matched, (SELECT count(*)::int FROM changed) AS requeued`,
    values,
  );
  return rows[0]!;
}

/** Of these jobs, those no longer dead: their DLQ messages may go. */
export async function notDead(db: Queryable, jobIds: readonly string[]): Promise<Set<string>> {
  const { rows } = await db.query<{ id: string }>(`SELECT id FROM jobs WHERE id = ANY($1::uuid[]) AND status <> 'failed'`, [jobIds]);
  return new Set(rows.map((r) => r.id));
}

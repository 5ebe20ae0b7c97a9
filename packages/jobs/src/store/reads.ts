/**
 * Reads of jobs for the api: one job, its result, and a pool's backlog. Every query is parameterised
 * and scoped by tenant; `tenant = null` (scope conveyor:admin) reads across tenants.
 */
import type { JobStatus } from '../status.js';
import type { Queryable } from './create.js';
import type { StartLimit } from './transitions.js';
import type { PauseReason } from '../pauses.js';

export interface Query {
  text: string;
  values: unknown[];
}

/** A job as findJob and the api's searches read it (columns renamed in the SQL). */
export interface JobRow {
  jobId: string;
  type: string;
  status: JobStatus;
  attempts: number;
  maxAttempts: number;
  progress: number | null;
  /** Read with one job only (findJob), not in lists. */
  progressMessage?: string | null;
  /** Read with one job only (findJob): payloads can be large, lists stay light. */
  payload?: unknown;
  error: string | null;
  runAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  traceId: string | null;
  cancelRequested: boolean;
  tenant: string;
  tags: string[];
}

export interface ResultRow {
  status: JobStatus;
  result: unknown;
  resultKey: string | null;
  error: string | null;
  /** When retention dropped the result (the type's resultRetentionSeconds); null while kept. */
  resultExpiredAt: Date | null;
}

/** A worker pool's live numbers behind the Retry-After estimate. */
export interface PoolStats {
  /** Queued or retrying jobs of the pool (counted up to a cap: beyond it the estimate is maxed anyway). */
  backlog: number;
  completedPerSecond: number;
  meanRunSeconds: number | null;
}

/** Qualified, so a search may join another table (job_tags) beside jobs. */
export const JOB_COLUMNS = `jobs.id AS "jobId", jobs.tenant, jobs.tags, jobs.type, jobs.status, jobs.attempts,
  jobs.max_attempts AS "maxAttempts", jobs.progress, jobs.error, jobs.run_at AS "runAt", jobs.created_at AS "createdAt",
  jobs.updated_at AS "updatedAt", jobs.started_at AS "startedAt", jobs.finished_at AS "finishedAt", jobs.trace_id AS "traceId",
  jobs.cancel_requested AS "cancelRequested"`;

/** created_at exactly as stored (microseconds), for the keyset cursor. */
export const CURSOR_AT = `to_char(jobs.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS "cursorAt"`;

/**
 * The note of the current attempt's latest progress report: it lives in its `progress` event only
 * (job_events_job index, newest first), so only the one-job read pays for it, not lists.
 */
const PROGRESS_MESSAGE = `(SELECT e.data->>'message' FROM job_events e
    WHERE e.job_id = jobs.id AND e.type = 'progress' AND (e.data->>'attempt')::int = jobs.attempts
    ORDER BY e.id DESC LIMIT 1) AS "progressMessage"`;

export async function findJob(db: Queryable, jobId: string, tenant: string | null): Promise<JobRow | undefined> {
  const { rows } = await db.query<JobRow>(
    `SELECT ${JOB_COLUMNS}, payload, ${PROGRESS_MESSAGE} FROM jobs WHERE id = $1 AND ($2::text IS NULL OR tenant = $2)`,
    [jobId, tenant],
  );
  return rows[0];
}

/**
 * Why a waiting job is held back now, its pool aside: a pause of its type or tenant (conveyor_paused,
 * migration 0025), else the start limit holding it (its tenant's max running, its concurrency key's
 * or its rate-limit key's: conveyor_start_limit, migration 0020); null when nothing does.
 */
export async function holdOf(db: Queryable, jobId: string): Promise<PauseReason | StartLimit | null> {
  const { rows } = await db.query<{ hold: PauseReason | StartLimit | null }>(
    `SELECT coalesce(conveyor_paused(type, tenant),
                     conveyor_start_limit(tenant, concurrency_key, concurrency_limit, rate_limit_key, rate_limit_per_second)) AS hold
       FROM jobs WHERE id = $1`,
    [jobId],
  );
  return rows[0]?.hold ?? null;
}

export async function findResult(db: Queryable, jobId: string, tenant: string | null): Promise<ResultRow | undefined> {
  const { rows } = await db.query<ResultRow>(
    `SELECT status, result, result_key AS "resultKey", error, result_expired_at AS "resultExpiredAt" FROM jobs WHERE id = $1 AND ($2::text IS NULL OR tenant = $2)`,
    [jobId, tenant],
  );
  return rows[0];
}

/**
 * Which of `jobIds` are in a final state: one query for every request waiting on a job (Prefer:
 * wait), however many. The ids come from the waiters' own submissions, so no tenant scope here.
 */
export async function endedAmong(db: Queryable, jobIds: readonly string[]): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM jobs WHERE id = ANY($1::uuid[]) AND status IN ('success', 'failed', 'cancelled')`,
    [jobIds],
  );
  return rows.map((row) => row.id);
}

/** Counting stops here: past it, the Retry-After estimate is at its maximum anyway. */
export const BACKLOG_COUNT_CAP = 10_000;

/** Jobs of the same pool waiting ahead of a job created at `createdAt`. */
export async function countAhead(db: Queryable, jobTypes: readonly string[], createdAt: Date): Promise<number> {
  const { rows } = await db.query<{ ahead: number }>(
    `SELECT count(*)::int AS ahead FROM (
       SELECT 1 FROM jobs WHERE status IN ('queued', 'retrying') AND type = ANY($1::text[]) AND created_at < $2 LIMIT $3
     ) waiting`,
    [jobTypes, createdAt, BACKLOG_COUNT_CAP],
  );
  return rows[0]?.ahead ?? 0;
}

/** A pool's backlog and what it finished during the last minute: the inputs of Retry-After. */
export async function fetchPoolStats(db: Queryable, jobTypes: readonly string[]): Promise<PoolStats> {
  const { rows } = await db.query<{ backlog: number; completed: number; meanRunSeconds: number | null }>(
    `SELECT (SELECT count(*)::int FROM (
               SELECT 1 FROM jobs WHERE status IN ('queued', 'retrying') AND type = ANY($1::text[]) LIMIT $2
             ) waiting) AS backlog,
            count(*)::int AS completed,
            avg(extract(epoch FROM finished_at - started_at))::float8 AS "meanRunSeconds"
       FROM jobs
      WHERE finished_at > now() - interval '60 seconds' AND status IN ('success', 'failed') AND type = ANY($1::text[])`,
    [jobTypes, BACKLOG_COUNT_CAP],
  );
  const row = rows[0] ?? { backlog: 0, completed: 0, meanRunSeconds: null };
  return { backlog: row.backlog, completedPerSecond: row.completed / 60, meanRunSeconds: row.meanRunSeconds };
}

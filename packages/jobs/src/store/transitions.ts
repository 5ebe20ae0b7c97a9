import type { JobEventType, JobStatus } from '../status.js';
import type { JobResult } from '../types/job-type.js';
import type { Queryable } from './create.js';
import type { PauseReason } from '../pauses.js';

/** The row as seen when a claim did not take it. */
export interface UnclaimedJob {
  status: JobStatus;
  cancelRequested: boolean;
  /** Runs started so far (a run that died counts), and the most the job may have. */
  attempts: number;
  maxAttempts: number;
  /** Milliseconds since the last heartbeat, by the database's clock; null when it never beat. */
  heartbeatAgeMs: number | null;
  /** Milliseconds until run_at by the database's clock: 0 when due, null without a run_at. */
  dueInMs: number | null;
  /** The worker's pool is paused (pool_controls): the claim refuses its jobs until it is resumed. */
  poolPaused: boolean;
  /** The job's type or tenant is paused (job_pauses, pauses.ts): the worker holds it until the resume. */
  paused: PauseReason | null;
  /** The reason last recorded for its wait (jobs.waiting_reason): a `waiting` event is written only when it changes. */
  waitingReason: string | null;
  /** A start limit that holds the job back now (its tenant's max running, its concurrency key's or its rate-limit key's); null when none does. */
  startLimit: StartLimit | null;
}

/** The waiting reasons of a job held back by a start limit (migration 0020). */
export type StartLimit = 'tenant_concurrency_limit' | 'key_concurrency_limit' | 'rate_limited';


/** The job as a claim hands it to the runner. */
export interface ClaimedJob {
  jobId: string;
  tenant: string;
  type: string;
  payload: unknown;
  attempt: number;
  maxAttempts: number;
  timeoutSeconds: number;
  createdAt: Date;
  /** When a delayed job was due; null for jobs asked to run at once. */
  runAt: Date | null;
}

/** Who holds a run: every write of a run is conditional on still holding it. */
export interface RunLease {
  jobId: string;
  workerId: string;
  attempt: number;
}

/**
 * The status tests of the claim and the completion sit inside CASE on purpose: a plain
 * `status IN (...)` matches the partial indexes on status, and statistics taken before a burst
 * (few queued, few processing) made Postgres scan every queued and processing job for each claim
 * of ten (2.8 ms a claim during a 50,000-job drain). Inside CASE only the primary key can find the
 * rows, which is what a claim of known ids needs. worker-plans.test.ts reads the plans.
 */
export const CLAIM_JOBS_SQL = `WITH limits AS (
       -- The start limits these jobs fall under (migration 0020), locked in one order before any
       -- job row, so two claims never wait for each other's locks the other way round (no deadlock).
       -- The trigger jobs_check_start takes them again (held already: no wait) and counts.
       SELECT count(pg_advisory_xact_lock(lock)) AS held FROM (
         SELECT DISTINCT l.lock FROM jobs j
          CROSS JOIN LATERAL (VALUES
            (CASE WHEN EXISTS (SELECT 1 FROM tenant_quotas q WHERE q.tenant = j.tenant AND q.max_running IS NOT NULL)
                  THEN conveyor_limit_lock('run', j.tenant) END),
            (CASE WHEN j.concurrency_key IS NOT NULL THEN conveyor_limit_lock('key', j.tenant, j.concurrency_key) END),
            (CASE WHEN j.rate_limit_key IS NOT NULL THEN conveyor_limit_lock('rate', j.tenant, j.rate_limit_key) END)) l(lock)
          WHERE j.id = ANY($1::uuid[]) AND l.lock IS NOT NULL
          ORDER BY 1
       ) k
     ), claimed AS (
       UPDATE jobs SET status = 'processing', attempts = attempts + 1, started_at = now(), heartbeat_at = now(),
                       locked_by = $2, progress = NULL, waiting_reason = NULL, updated_at = now()
       WHERE id = ANY($1::uuid[]) AND NOT cancel_requested AND (run_at IS NULL OR run_at <= now())
         AND (SELECT held FROM limits) >= 0
         -- A paused pool's jobs wait, even for a worker that has not heard of the pause yet.
         AND NOT EXISTS (SELECT 1 FROM pool_controls WHERE pool = $4 AND paused)
         -- So do a paused type's or tenant's (pauses.ts); with no pause at all, one look for the statement.
         AND (NOT EXISTS (SELECT 1 FROM job_pauses) OR conveyor_paused(type, tenant) IS NULL)
         AND CASE status WHEN 'queued' THEN true
                         WHEN 'retrying' THEN true
                         WHEN 'processing' THEN (heartbeat_at IS NULL OR heartbeat_at < now() - make_interval(secs => $3))
                                                AND attempts < max_attempts
                         ELSE false END
       RETURNING id, tenant, type, payload, attempts, max_attempts, timeout_seconds, created_at, run_at
     ), event AS (
       INSERT INTO job_events (job_id, type, data)
       SELECT id, 'started', jsonb_build_object('attempt', attempts, 'worker', $2::text) FROM claimed
     )
     SELECT id AS "jobId", tenant, type, payload, attempts AS attempt, max_attempts AS "maxAttempts",
            timeout_seconds AS "timeoutSeconds", created_at AS "createdAt", run_at AS "runAt"
     FROM claimed`;

/**
 * Claim (contract 7): one conditional UPDATE takes each queued or retrying job, or a processing one
 * whose worker stopped heartbeating with attempts left (a run that died counts as an attempt), unless
 * cancellation was requested or its run_at is still ahead by Postgres' clock (delayed jobs are dispatched early; this is what keeps them from
 * starting early), or the worker's pool is paused. The `started` events are written in the same statement, so each status change
 * and its event commit together. A job over its tenant's max running or its concurrency key's
 * limit is not taken either (the trigger jobs_check_start, migration 0020). Returns the jobs this
 * worker won, by id; the others are not claimable now. A job past its rate-limit key's starts per
 * second is not taken either.
 */
export async function claimJobs(db: Queryable, jobIds: readonly string[], workerId: string, leaseSeconds: number, pool: string): Promise<Map<string, ClaimedJob>> {
  const { rows } = await db.query<ClaimedJob>({
    name: 'worker.claim-jobs',
    text: CLAIM_JOBS_SQL,
    values: [jobIds, workerId, leaseSeconds, pool],
  });
  return new Map(rows.map((row) => [row.jobId, row]));
}

/** The job as the claim saw it, and whether `pool` (the worker's), its type or its tenant is paused. */
export async function readJob(db: Queryable, jobId: string, pool: string): Promise<UnclaimedJob | undefined> {
  const { rows } = await db.query<UnclaimedJob>(
    `SELECT status, cancel_requested AS "cancelRequested", attempts, max_attempts AS "maxAttempts",
            (EXTRACT(EPOCH FROM now() - heartbeat_at) * 1000)::float8 AS "heartbeatAgeMs",
            GREATEST(0, EXTRACT(EPOCH FROM run_at - now()) * 1000)::float8 AS "dueInMs",
            EXISTS (SELECT 1 FROM pool_controls WHERE pool = $2 AND paused) AS "poolPaused",
            CASE WHEN status IN ('queued', 'retrying') THEN conveyor_paused(type, tenant) END AS paused,
            waiting_reason AS "waitingReason",
            CASE WHEN status IN ('queued', 'retrying') THEN conveyor_start_limit(tenant, concurrency_key, concurrency_limit, rate_limit_key, rate_limit_per_second) END AS "startLimit"
     FROM jobs WHERE id = $1`,
    [jobId, pool],
  );
  return rows[0];
}

/**
 * Records why a waiting job was not started, as a `waiting` event on its stream, when that differs
 * from the reason recorded last (the claim clears it; the `started` event says it runs). The caller
 * compares with readJob's waitingReason first, so a job held again for the same reason costs nothing.
 */
export async function noteWaiting(db: Queryable, jobId: string, reason: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `WITH changed AS (
       UPDATE jobs SET waiting_reason = $2 WHERE id = $1 AND status IN ('queued', 'retrying') AND waiting_reason IS DISTINCT FROM $2 RETURNING id
     )
     INSERT INTO job_events (job_id, type, data) SELECT id, 'waiting', jsonb_build_object('reason', $2::text) FROM changed`,
    [jobId, reason],
  );
  return (rowCount ?? 0) > 0;
}

/** Refreshes the run's heartbeat; `undefined` means the run was taken over (or finished elsewhere). */
export async function heartbeat(db: Queryable, lease: RunLease): Promise<{ cancelRequested: boolean } | undefined> {
  const { rows } = await db.query<{ cancelRequested: boolean }>(
    `UPDATE jobs SET heartbeat_at = now()
     WHERE id = $1 AND locked_by = $2 AND attempts = $3 AND status = 'processing'
     RETURNING cancel_requested AS "cancelRequested"`,
    [lease.jobId, lease.workerId, lease.attempt],
  );
  return rows[0];
}

/**
 * A status change of a held run plus its event, in one statement. Returns false when the run is no
 * longer held (its lease expired and another worker claimed the job), so nothing was written. The
 * event's data is `data`, plus the job's new run_at when `withRunAt` (a retry's next attempt).
 */
async function leasedTransition(
  db: Queryable,
  lease: RunLease,
  set: string,
  event: JobEventType,
  data: Record<string, unknown>,
  extra: unknown[] = [],
  withRunAt = false,
): Promise<boolean> {
  const eventData = withRunAt ? `$4::jsonb || jsonb_build_object('runAt', run_at)` : '$4::jsonb';
  const { rows } = await db.query<{ n: number }>(
    `WITH changed AS (
       UPDATE jobs SET ${set}, updated_at = now()
       WHERE id = $1 AND locked_by = $2 AND attempts = $3 AND status = 'processing'
       RETURNING id, run_at
     ), event AS (
       INSERT INTO job_events (job_id, type, data) SELECT id, '${event}', ${eventData} FROM changed
     )
     SELECT count(*)::int AS n FROM changed`,
    [lease.jobId, lease.workerId, lease.attempt, JSON.stringify(data), ...extra],
  );
  return rows[0]!.n === 1;
}

export interface StoredResult {
  /** What jobs.result holds: the result itself, or a summary of the S3 object. */
  result: JobResult | { contentType: string; bytes: number };
  resultKey: string | null;
}

export interface Completion {
  lease: RunLease;
  stored: StoredResult;
}

/** See CLAIM_JOBS_SQL for why the status test is a CASE. */
export const COMPLETE_JOBS_SQL = `WITH done AS (
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[], $4::jsonb[], $5::text[])
                  AS d(id, worker, attempt, result, result_key)
     ), changed AS (
       UPDATE jobs j SET status = 'success', result = d.result, result_key = d.result_key, error = NULL, progress = 1,
                         finished_at = now(), locked_by = NULL, updated_at = now()
         FROM done d
        WHERE j.id = d.id AND j.locked_by = d.worker AND j.attempts = d.attempt
          AND CASE j.status WHEN 'processing' THEN true ELSE false END
       RETURNING j.id, d.attempt, d.result_key
     ), event AS (
       INSERT INTO job_events (job_id, type, data)
       SELECT id, 'succeeded', jsonb_build_object('attempt', attempt, 'resultKey', result_key) FROM changed
     )
     SELECT id FROM changed`;

/**
 * Ends held runs in success with their results and `succeeded` events, in one statement. Returns
 * the ids of the jobs written; a run no longer held (its lease lapsed) is left alone.
 */
export async function completeJobs(db: Queryable, completions: readonly Completion[]): Promise<Set<string>> {
  const { rows } = await db.query<{ id: string }>({
    name: 'worker.complete-jobs',
    text: COMPLETE_JOBS_SQL,
    values: [
      completions.map((c) => c.lease.jobId),
      completions.map((c) => c.lease.workerId),
      completions.map((c) => c.lease.attempt),
      completions.map((c) => JSON.stringify(c.stored.result)),
      completions.map((c) => c.stored.resultKey),
    ],
  });
  return new Set(rows.map((row) => row.id));
}

/**
 * Hands a failed attempt back to Postgres: `retrying`, its next attempt due at run_at (now plus the
 * backoff, by the database's clock) and unpublished, for the scheduler's dispatcher to send in a
 * fresh message when due, as it sends delayed jobs. The caller then deletes the attempt's message.
 */
export function retryJob(db: Queryable, lease: RunLease, error: string, delaySeconds: number): Promise<boolean> {
  return leasedTransition(
    db,
    lease,
    `status = 'retrying', error = $5, run_at = now() + make_interval(secs => $6), published_at = NULL,
     locked_by = NULL, heartbeat_at = NULL`,
    'retried',
    { attempt: lease.attempt, error, delaySeconds },
    [error, delaySeconds],
    true,
  );
}

export function failJob(db: Queryable, lease: RunLease, error: string, reason: string): Promise<boolean> {
  return leasedTransition(
    db,
    lease,
    `status = 'failed', error = $5, finished_at = now(), locked_by = NULL`,
    'failed',
    { attempt: lease.attempt, error, reason },
    [error],
  );
}

export function cancelRunningJob(db: Queryable, lease: RunLease): Promise<boolean> {
  return leasedTransition(
    db,
    lease,
    `status = 'cancelled', finished_at = now(), locked_by = NULL`,
    'cancelled',
    { attempt: lease.attempt, while: 'processing' },
  );
}

/**
 * Hands an unfinished run back (worker shutdown): the attempt is not counted, so a scale-in never
 * uses up a job's attempts, and the job is `queued` (its message is made visible again at once),
 * never `retrying`, which would make the dispatcher send a second message.
 */
export function releaseJob(db: Queryable, lease: RunLease): Promise<boolean> {
  return leasedTransition(
    db,
    lease,
    `status = 'queued', attempts = attempts - 1, locked_by = NULL, heartbeat_at = NULL, progress = NULL`,
    'queued',
    { attempt: lease.attempt, reason: 'worker shutdown' },
  );
}

/**
 * The job's progress (0..1) on its row; the note only in the `progress` event, which the event
 * stream carries and GET /jobs/{id} reads back (the current attempt's latest).
 */
export function recordProgress(db: Queryable, lease: RunLease, fraction: number, message: string | null): Promise<boolean> {
  const data = { progress: fraction, attempt: lease.attempt, ...(message === null ? {} : { message }) };
  return leasedTransition(db, lease, `progress = $5`, 'progress', data, [fraction]);
}

const WAITING: readonly JobStatus[] = ['scheduled', 'queued', 'retrying'];

/** Ends a job that never started because cancellation was requested (or its worker died after the request). */
export async function cancelUnstarted(db: Queryable, jobId: string, leaseSeconds: number): Promise<boolean> {
  const { rows } = await db.query<{ n: number }>(
    `WITH changed AS (
       UPDATE jobs SET status = 'cancelled', finished_at = now(), locked_by = NULL, updated_at = now()
       WHERE id = $1 AND cancel_requested
         AND (status = ANY($2::text[])
              OR (status = 'processing' AND (heartbeat_at IS NULL OR heartbeat_at < now() - make_interval(secs => $3))))
       RETURNING id
     ), event AS (
       INSERT INTO job_events (job_id, type, data) SELECT id, 'cancelled', '{"while":"queued"}'::jsonb FROM changed
     )
     SELECT count(*)::int AS n FROM changed`,
    [jobId, WAITING, leaseSeconds],
  );
  return rows[0]!.n === 1;
}

/**
 * Fails a job whose message can never run (unknown type, invalid payload; a WorkerPool deleted by
 * force before it ran) without starting it. `reason` goes into the `failed` event.
 */
export async function failUnstarted(db: Queryable, jobId: string, error: string, reason = 'poison message'): Promise<boolean> {
  const { rows } = await db.query<{ n: number }>(
    `WITH changed AS (
       UPDATE jobs SET status = 'failed', error = $2, finished_at = now(), updated_at = now()
       WHERE id = $1 AND status = ANY($3::text[])
       RETURNING id
     ), event AS (
       INSERT INTO job_events (job_id, type, data)
       SELECT id, 'failed', jsonb_build_object('error', $2::text, 'reason', $4::text) FROM changed
     )
     SELECT count(*)::int AS n FROM changed`,
    [jobId, error, WAITING, reason],
  );
  return rows[0]!.n === 1;
}

/** Why a job ends failed when its worker died during its last attempt; the reconciler says the same. */
export const ABANDONED_LAST_ATTEMPT = 'worker stopped heartbeating and attempts are exhausted';

/**
 * Fails a job whose worker stopped heartbeating during its last attempt (a run that kills its
 * worker, say): another attempt would exceed maxAttempts. Conditional on exactly that state.
 */
export async function failAbandoned(db: Queryable, jobId: string, leaseSeconds: number): Promise<boolean> {
  const { rows } = await db.query<{ n: number }>(
    `WITH changed AS (
       UPDATE jobs SET status = 'failed', error = $3, finished_at = now(), locked_by = NULL, updated_at = now()
       WHERE id = $1 AND status = 'processing' AND attempts >= max_attempts
         AND (heartbeat_at IS NULL OR heartbeat_at < now() - make_interval(secs => $2))
       RETURNING id, attempts
     ), event AS (
       INSERT INTO job_events (job_id, type, data)
       SELECT id, 'failed', jsonb_build_object('attempt', attempts, 'error', $3::text, 'reason', 'attempts exhausted') FROM changed
     )
     SELECT count(*)::int AS n FROM changed`,
    [jobId, leaseSeconds, ABANDONED_LAST_ATTEMPT],
  );
  return rows[0]!.n === 1;
}

export type CancelOutcome =
  | { kind: 'not-found' }
  | { kind: 'finished'; status: JobStatus }
  | { kind: 'cancelled' }
  | { kind: 'abort-requested' };

/**
 * Contract 8 in one statement: the row is locked, so a worker's claim (a conditional UPDATE on
 * queued/retrying) either ran before us, and the job is processing (its worker aborts it), or runs
 * after and finds it cancelled. Waiting jobs end at once, with their `cancelled` event.
 */
/** `tenant` null: an administrator (scope conveyor:admin) cancelling any tenant's job. */
export async function cancelJob(db: Queryable, jobId: string, tenant: string | null): Promise<CancelOutcome> {
  const { rows } = await db.query<{ previous: JobStatus; status: JobStatus | null }>(
    `WITH target AS (
       SELECT id, status FROM jobs WHERE id = $1 AND ($2::text IS NULL OR tenant = $2) FOR UPDATE
     ), changed AS (
       UPDATE jobs j SET cancel_requested = true,
              status = CASE WHEN t.status = 'processing' THEN j.status ELSE 'cancelled' END,
              finished_at = CASE WHEN t.status = 'processing' THEN j.finished_at ELSE now() END,
              updated_at = now()
       FROM target t
       WHERE j.id = t.id AND t.status IN ('scheduled', 'queued', 'processing', 'retrying')
       RETURNING j.id, j.status, t.status AS previous
     ), event AS (
       INSERT INTO job_events (job_id, type, data)
       SELECT id, 'cancelled', jsonb_build_object('previous', previous, 'by', 'api') FROM changed WHERE status = 'cancelled'
     )
     SELECT t.status AS previous, c.status FROM target t LEFT JOIN changed c ON c.id = t.id`,
    [jobId, tenant],
  );
  const row = rows[0];
  if (!row) return { kind: 'not-found' };
  if (row.status === null) return { kind: 'finished', status: row.previous };
  return row.status === 'cancelled' ? { kind: 'cancelled' } : { kind: 'abort-requested' };
}

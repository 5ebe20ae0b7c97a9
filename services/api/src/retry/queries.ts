/** POST /jobs/{id}/retry in one statement: the job, its state change and its event commit together. */
import type { JobStatus, Queryable } from '@conveyor/jobs';

export type RetryOutcome = { kind: 'not-found' } | { kind: 'refused'; status: JobStatus } | { kind: 'retried'; attempt: number; type: string };

/**
 * The state change of a re-run (`jobs j`): `retrying`, due now, unpublished, one attempt more than
 * it has used. A DLQ redrive makes the same change.
 */
export const RETRY_SET = `status = 'retrying', run_at = now(), published_at = NULL, cancel_requested = false,
  max_attempts = GREATEST(j.max_attempts, j.attempts + 1), finished_at = NULL, locked_by = NULL,
  heartbeat_at = NULL, progress = NULL, updated_at = now()`;

/** What may be re-run: a job that ended without success. */
export const RETRYABLE: readonly JobStatus[] = ['failed', 'cancelled'];

/**
 * Hands a failed or cancelled job back to the path a worker's failed attempt takes (migration
 * 0007): `retrying`, due now and unpublished, so the scheduler's dispatcher sends it in a fresh
 * message and the worker claims it as it claims any retry. One more attempt than it has used is
 * allowed (max_attempts rises if it must), so the worker's own retry and exhaustion rules still
 * hold. The row is locked: a concurrent retry of the same job finds it `retrying` and is refused.
 */
export async function retryJob(db: Queryable, jobId: string, tenant: string | null, by: string): Promise<RetryOutcome> {
  const { rows } = await db.query<{ previous: JobStatus; attempt: number | null; type: string }>(
    `WITH target AS (
       SELECT id, status, type FROM jobs WHERE id = $1 AND ($2::text IS NULL OR tenant = $2) FOR UPDATE
     ), changed AS (
       UPDATE jobs j SET ${RETRY_SET}
         FROM target t
        WHERE j.id = t.id AND t.status = ANY($4::text[])
       RETURNING j.id, j.attempts + 1 AS attempt, t.status AS previous
     ), event AS (
       INSERT INTO job_events (job_id, type, data)
       SELECT id, 'retried', jsonb_build_object('by', $3::text, 'manual', true, 'previous', previous, 'attempt', attempt) FROM changed
     )
     SELECT t.status AS previous, c.attempt, t.type FROM target t LEFT JOIN changed c ON c.id = t.id`,
    [jobId, tenant, by, RETRYABLE],
  );
  const row = rows[0];
  if (!row) return { kind: 'not-found' };
  return row.attempt === null ? { kind: 'refused', status: row.previous } : { kind: 'retried', attempt: row.attempt, type: row.type };
}

import type { Queryable } from '@conveyor/jobs';

export interface StaleJob {
  id: string;
  status: 'queued' | 'failed' | 'cancelled';
  lockedBy: string | null;
  attempts: number;
}

/**
 * `processing` jobs whose worker stopped heartbeating: back to `queued` (unpublished, so the relay
 * sends a new message), or finished when their cancellation was requested or attempts are spent,
 * each with its event, in one statement. The reconciler announces them (outbox signal).
 */
export async function recoverStaleProcessing(db: Queryable, leaseSeconds: number, limit: number): Promise<StaleJob[]> {
  const { rows } = await db.query<{ id: string; status: StaleJob['status']; locked_by: string | null; attempts: number }>(
    `WITH stale AS (
       SELECT id, locked_by FROM jobs
        WHERE status = 'processing' AND heartbeat_at < now() - make_interval(secs => $1)
        ORDER BY heartbeat_at
        LIMIT $2
        FOR UPDATE SKIP LOCKED
     ), moved AS (
       UPDATE jobs j SET
         status = CASE WHEN j.cancel_requested THEN 'cancelled'
                       WHEN j.attempts >= j.max_attempts THEN 'failed'
                       ELSE 'queued' END,
         error = CASE WHEN NOT j.cancel_requested AND j.attempts >= j.max_attempts
                      THEN 'worker stopped heartbeating and attempts are exhausted' ELSE j.error END,
         finished_at = CASE WHEN j.cancel_requested OR j.attempts >= j.max_attempts THEN now() END,
         published_at = NULL, locked_by = NULL, heartbeat_at = NULL, updated_at = now()
       FROM stale WHERE j.id = stale.id
       RETURNING j.id, j.status, j.attempts, stale.locked_by
     ), events AS (
       INSERT INTO job_events (job_id, type, data)
       SELECT id,
              CASE status WHEN 'queued' THEN 'retried' ELSE status END,
              jsonb_build_object('reason', 'heartbeat_expired', 'worker', locked_by, 'attempts', attempts)
         FROM moved
     )
     SELECT id, status, locked_by, attempts FROM moved`,
    [leaseSeconds, limit],
  );
  return rows.map((r) => ({ id: r.id, status: r.status, lockedBy: r.locked_by, attempts: r.attempts }));
}

/**
 * Published `queued`/`retrying` jobs nobody started or touched for `afterSeconds`: their message
 * probably vanished (queue purged, emulator restarted). Unpublishing them makes the relay send
 * a new one; a duplicate is harmless because the worker's claim is conditional.
 */
export async function redriveUnstarted(db: Queryable, afterSeconds: number, limit: number): Promise<Array<{ id: string; previousStatus: string }>> {
  const { rows } = await db.query<{ id: string; previous_status: string }>(
    `WITH lost AS (
       SELECT id, status FROM jobs
        WHERE status IN ('queued', 'retrying')
          AND published_at < now() - make_interval(secs => $1)
          AND updated_at < now() - make_interval(secs => $1)
          AND NOT cancel_requested
        ORDER BY published_at
        LIMIT $2
        FOR UPDATE SKIP LOCKED
     ), moved AS (
       UPDATE jobs j SET status = 'queued', published_at = NULL, updated_at = now()
         FROM lost WHERE j.id = lost.id
       RETURNING j.id, lost.status AS previous_status
     ), events AS (
       INSERT INTO job_events (job_id, type, data)
       SELECT id, 'queued', jsonb_build_object('reason', 'message_lost', 'previousStatus', previous_status) FROM moved
     )
     SELECT id, previous_status FROM moved`,
    [afterSeconds, limit],
  );
  return rows.map((r) => ({ id: r.id, previousStatus: r.previous_status }));
}

/** The outbox relay's backlog; publishing it is the relay's job, the scheduler only watches it. */
export async function countUnpublished(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM jobs WHERE status = 'queued' AND published_at IS NULL`,
  );
  return rows[0]!.n;
}

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
 * Waiting jobs whose queue must hold a message for each: handed to Kafka before `publishedBefore`,
 * a moment by which Kafka had passed every one of them to SNS (see handoff-watermark.ts), with
 * time to spare for SNS to deliver to SQS.
 */
export async function countAwaitingDelivery(db: Queryable, types: readonly string[], publishedBefore: Date): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM jobs
      WHERE status IN ('queued', 'retrying') AND type = ANY($1::text[]) AND published_at < $2
        -- A job a pause holds has no message (pauses.ts): the resume sends it again.
        AND held_at IS NULL`,
    [types, publishedBefore],
  );
  return rows[0]!.n;
}

export interface LostMessageCriteria {
  types: readonly string[];
  publishedBefore: Date;
  /** Rows changed since may have a message a worker holds out of sight (a delayed job received early and held until due, say). */
  untouchedBefore: Date;
  /** Job ids of every message a complete scan of the queue found: these are not lost. */
  seen: readonly string[];
}

/**
 * Re-sends jobs whose message is lost: waiting jobs that meet the criteria and whose id no message
 * in the queue carries go back to `queued` unpublished (the relay sends a new message), with a
 * `queued` event, reason `message_lost`. Conditional on the row, so a job a worker claimed
 * meanwhile is left alone; a duplicate that slips through is harmless (the claim is conditional).
 */
export async function redriveLost(db: Queryable, criteria: LostMessageCriteria, limit: number): Promise<Array<{ id: string; previousStatus: string }>> {
  const { rows } = await db.query<{ id: string; previous_status: string }>(
    `WITH lost AS (
       SELECT id, status FROM jobs
        WHERE status IN ('queued', 'retrying') AND type = ANY($1::text[])
          AND published_at < $2 AND updated_at < $3
          AND NOT cancel_requested AND held_at IS NULL
          AND NOT (id = ANY($4::uuid[]))
        ORDER BY published_at
        LIMIT $5
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
    [criteria.types, criteria.publishedBefore, criteria.untouchedBefore, criteria.seen, limit],
  );
  return rows.map((r) => ({ id: r.id, previousStatus: r.previous_status }));
}

/** The database's clock: every time compared with published_at and updated_at is taken from it. */
export async function databaseNow(db: Queryable): Promise<Date> {
  const { rows } = await db.query<{ now: Date }>('SELECT clock_timestamp() AS now');
  return rows[0]!.now;
}

/** The outbox relay's backlog; publishing it is the relay's job, the scheduler only watches it. */
export async function countUnpublished(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM jobs WHERE status = 'queued' AND published_at IS NULL`,
  );
  return rows[0]!.n;
}

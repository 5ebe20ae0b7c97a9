import type { Queryable } from '@conveyor/jobs';

export interface DispatchedJob {
  id: string;
  runAt: Date;
  dispatchedAt: Date;
  /** The job's stored trace context, so the dispatch shows in the job's trace. */
  traceparent: string | null;
  type: string;
}

export interface DispatchRound {
  dispatched: DispatchedJob[];
  /** The earliest run_at still waiting (not yet due by the database clock), if any. */
  next: Date | null;
  /** The database clock when the statement started: timers are armed relative to it, not to ours. */
  dbNow: Date;
}

/**
 * Moves due delayed jobs to `queued` (unpublished, so the outbox relay sends them) with a `queued`
 * event, in one statement. `run_at <= now()` uses Postgres' clock, so no replica dispatches early
 * whatever its own clock says; SKIP LOCKED lets replicas share the rows without waiting or
 * dispatching one twice. The next run_at comes back in the same round trip.
 */
export async function dispatchDueJobs(db: Queryable, batchSize: number): Promise<DispatchRound> {
  const { rows } = await db.query<{
    id: string | null;
    run_at: Date | null;
    dispatched_at: Date | null;
    traceparent: string | null;
    type: string | null;
    next: Date | null;
    db_now: Date;
  }>(
    `WITH due AS (
       SELECT id FROM jobs
        WHERE status = 'scheduled' AND run_at <= now() AND NOT cancel_requested
        ORDER BY run_at
        LIMIT $1
        FOR UPDATE SKIP LOCKED
     ), moved AS (
       UPDATE jobs j
          SET status = 'queued', published_at = NULL, updated_at = clock_timestamp()
         FROM due WHERE j.id = due.id
       RETURNING j.id, j.run_at, j.updated_at AS dispatched_at, j.traceparent, j.type
     ), events AS (
       INSERT INTO job_events (job_id, type, data)
       SELECT id, 'queued', jsonb_build_object('reason', 'due', 'runAt', run_at, 'dispatchedAt', dispatched_at)
         FROM moved ORDER BY run_at
     )
     SELECT m.id, m.run_at, m.dispatched_at, m.traceparent, m.type, n.next, n.db_now
       FROM (SELECT (SELECT min(run_at) FROM jobs WHERE status = 'scheduled' AND run_at > now()) AS next,
                    now() AS db_now) n
       LEFT JOIN moved m ON true
      ORDER BY m.run_at`,
    [batchSize],
  );
  const first = rows[0]!;
  return {
    dispatched: rows.filter((r) => r.id !== null).map((r) => ({ id: r.id!, runAt: r.run_at!, dispatchedAt: r.dispatched_at!, traceparent: r.traceparent, type: r.type! })),
    next: first.next,
    dbNow: first.db_now,
  };
}

export interface DuePeek {
  /** The earliest run_at of any scheduled job, due or not. */
  next: Date | null;
  dbNow: Date;
}

/** Read-only look at the next run_at (jobs_due index): cheap enough to run on every notification. */
export async function peekNextDue(db: Queryable): Promise<DuePeek> {
  const { rows } = await db.query<{ next: Date | null; db_now: Date }>(
    `SELECT (SELECT min(run_at) FROM jobs WHERE status = 'scheduled' AND NOT cancel_requested) AS next, now() AS db_now`,
  );
  return { next: rows[0]!.next, dbNow: rows[0]!.db_now };
}

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
  /** When the earliest job still waiting falls within the lead (its run_at minus the lead), if any. */
  next: Date | null;
  /** The database clock when the statement started: timers are armed relative to it, not to ours. */
  dbNow: Date;
}

/**
 * Moves delayed jobs, and failed jobs waiting for their next attempt (`retrying`, which a worker
 * left without a message), due within `leadMs` to `queued` (unpublished, so the outbox relay sends
 * them) with a `queued` event, in one statement. The lead lets the message travel Kafka, SNS and SQS
 * before run_at; the worker holds it and its claim refuses a job before `run_at <= now()` by
 * Postgres' clock, so nothing starts early whatever a replica's clock says. SKIP LOCKED lets
 * replicas share the rows without waiting or dispatching one twice. The next dispatch time
 * (run_at minus the lead) comes back in the same round trip.
 */
export async function dispatchDueJobs(db: Queryable, batchSize: number, leadMs = 0): Promise<DispatchRound> {
  const { rows } = await db.query<{
    id: string | null;
    run_at: Date | null;
    dispatched_at: Date | null;
    traceparent: string | null;
    type: string | null;
    next: Date | null;
    db_now: Date;
  }>({
    name: 'scheduler.dispatch-due-jobs',
    // An array of ids, not a join with the due rows: see outbox.sql.ts for the plan a join risked.
    text: `WITH moved AS (
       UPDATE jobs j
          SET status = 'queued', published_at = NULL, updated_at = clock_timestamp()
        WHERE j.id = ANY (ARRAY(SELECT id FROM jobs
                                 WHERE status IN ('scheduled', 'retrying') AND run_at <= now() + $2::float8 * interval '1 millisecond'
                                   AND NOT cancel_requested
                                 ORDER BY run_at
                                 LIMIT $1
                                 FOR UPDATE SKIP LOCKED))
       RETURNING j.id, j.run_at, j.updated_at AS dispatched_at, j.traceparent, j.type, j.attempts
     ), events AS (
       INSERT INTO job_events (job_id, type, data)
       SELECT id, 'queued', jsonb_build_object('reason', CASE WHEN attempts > 0 THEN 'retry' ELSE 'due' END, 'runAt', run_at, 'dispatchedAt', dispatched_at)
         FROM moved ORDER BY run_at
     )
     SELECT m.id, m.run_at, m.dispatched_at, m.traceparent, m.type, n.next, n.db_now
       FROM (SELECT (SELECT min(run_at) FROM jobs WHERE status IN ('scheduled', 'retrying') AND run_at > now() + $2::float8 * interval '1 millisecond')
                      - $2::float8 * interval '1 millisecond' AS next,
                    now() AS db_now) n
       LEFT JOIN moved m ON true
      ORDER BY m.run_at`,
    values: [batchSize, leadMs],
  });
  const first = rows[0]!;
  return {
    dispatched: rows.filter((r) => r.id !== null).map((r) => ({ id: r.id!, runAt: r.run_at!, dispatchedAt: r.dispatched_at!, traceparent: r.traceparent, type: r.type! })),
    next: first.next,
    dbNow: first.db_now,
  };
}

export interface DuePeek {
  /** When the earliest scheduled job falls within the lead (its run_at minus the lead), due or not. */
  next: Date | null;
  dbNow: Date;
}

/** Read-only look at the next run_at (jobs_due index): cheap enough to run on every notification. */
export async function peekNextDue(db: Queryable, leadMs = 0): Promise<DuePeek> {
  const { rows } = await db.query<{ next: Date | null; db_now: Date }>({
    name: 'scheduler.peek-next-due',
    text: `SELECT (SELECT min(run_at) FROM jobs WHERE status IN ('scheduled', 'retrying') AND NOT cancel_requested) - $1::float8 * interval '1 millisecond' AS next,
            now() AS db_now`,
    values: [leadMs],
  });
  return { next: rows[0]!.next, dbNow: rows[0]!.db_now };
}

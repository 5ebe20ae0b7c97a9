/**
 * The relay's statements. Claims lock only the rows being published and skip rows another relay
 * holds, so replicas share the backlog.
 *
 * Each claim picks its ids into an array (`id = ANY(ARRAY(...))`) rather than `id IN (subquery)`:
 * with a semi-join, statistics taken while a backlog waited led the planner to hash-join a
 * sequential scan of the whole table, on every round, for as long as those statistics stood. An
 * array of ids can only be looked up by primary key.
 */

export interface Statement {
  /** Named statements are parsed and planned once per connection: these run several times a second. */
  name?: string;
  text: string;
  values: unknown[];
}

export interface UnpublishedJobRow {
  id: string;
  type: string;
  tenant: string;
  payload: unknown;
  created_at: Date;
  /** Set for delayed jobs, which the scheduler may dispatch ahead of it. */
  run_at: Date | null;
  max_attempts: number;
  timeout_seconds: number;
  traceparent: string | null;
  request_id: string | null;
}

export interface UnpublishedEventRow {
  id: string;
  job_id: string;
  type: string;
  data: Record<string, unknown>;
  created_at: Date;
  tenant: string;
  owner: string;
  job_type: string;
  traceparent: string | null;
  request_id: string | null;
}

/**
 * Claims and marks a batch of unpublished jobs in one statement. The caller's transaction holds the
 * row locks until Kafka acknowledged the batch; a rollback un-marks them.
 */
export function claimJobs(limit: number): Statement {
  return {
    name: 'outbox.claim-jobs',
    text: `UPDATE jobs SET published_at = now()
            WHERE id = ANY (ARRAY(SELECT id FROM jobs
                                   WHERE status = 'queued' AND published_at IS NULL
                                   ORDER BY created_at
                                   LIMIT $1
                                     FOR UPDATE SKIP LOCKED))
        RETURNING id, type, tenant, payload, created_at, run_at, max_attempts, timeout_seconds, traceparent, request_id`,
    values: [limit],
  };
}

/** The same for lifecycle events; the job row is read, not locked, so workers are never held up. */
export function claimEvents(limit: number): Statement {
  return {
    name: 'outbox.claim-events',
    text: `WITH claimed AS (
             UPDATE job_events SET published_at = now()
              WHERE id = ANY (ARRAY(SELECT id FROM job_events
                                     WHERE published_at IS NULL
                                     ORDER BY id
                                     LIMIT $1
                                       FOR UPDATE SKIP LOCKED))
             RETURNING id, job_id, type, data, created_at
           )
           SELECT e.id, e.job_id, e.type, e.data, e.created_at,
                  j.tenant, j.owner, j.type AS job_type, j.traceparent, j.request_id
             FROM claimed e JOIN jobs j ON j.id = e.job_id`,
    values: [limit],
  };
}

/** RETURNING has no order: publish jobs oldest first and events in insertion order, as claimed. */
export function inClaimOrder<T extends UnpublishedJobRow | UnpublishedEventRow>(rows: T[]): T[] {
  return rows.sort((a, b) => {
    if ('job_id' in a && 'job_id' in b) return Number(BigInt(a.id) - BigInt(b.id));
    return a.created_at.getTime() - b.created_at.getTime();
  });
}

/** Rows waiting to be published; both counts are served by partial indexes. */
export function countBacklog(): Statement {
  return {
    text: `SELECT (SELECT count(*) FROM jobs WHERE status = 'queued' AND published_at IS NULL)::int AS jobs,
                  (SELECT count(*) FROM job_events WHERE published_at IS NULL)::int AS job_events`,
    values: [],
  };
}

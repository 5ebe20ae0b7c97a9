/**
 * The relay's statements. Claims lock only the rows being published (`FOR UPDATE OF e` leaves the
 * job row free for workers) and skip rows another relay holds, so replicas share the backlog.
 */

export interface Statement {
  text: string;
  values: unknown[];
}

export interface UnpublishedJobRow {
  id: string;
  type: string;
  tenant: string;
  payload: unknown;
  created_at: Date;
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

export function claimJobs(limit: number): Statement {
  return {
    text: `SELECT id, type, tenant, payload, created_at, max_attempts, timeout_seconds, traceparent, request_id
             FROM jobs
            WHERE status = 'queued' AND published_at IS NULL
            ORDER BY created_at
            LIMIT $1
              FOR UPDATE SKIP LOCKED`,
    values: [limit],
  };
}

export function claimEvents(limit: number): Statement {
  return {
    text: `SELECT e.id, e.job_id, e.type, e.data, e.created_at,
                  j.tenant, j.owner, j.type AS job_type, j.traceparent, j.request_id
             FROM job_events e
             JOIN jobs j ON j.id = e.job_id
            WHERE e.published_at IS NULL
            ORDER BY e.id
            LIMIT $1
              FOR UPDATE OF e SKIP LOCKED`,
    values: [limit],
  };
}

export function markJobsPublished(ids: string[]): Statement {
  return { text: 'UPDATE jobs SET published_at = now() WHERE id = ANY($1::uuid[])', values: [ids] };
}

export function markEventsPublished(ids: string[]): Statement {
  return { text: 'UPDATE job_events SET published_at = now() WHERE id = ANY($1::bigint[])', values: [ids] };
}

/** Rows waiting to be published; both counts are served by partial indexes. */
export function countBacklog(): Statement {
  return {
    text: `SELECT (SELECT count(*) FROM jobs WHERE status = 'queued' AND published_at IS NULL)::int AS jobs,
                  (SELECT count(*) FROM job_events WHERE published_at IS NULL)::int AS job_events`,
    values: [],
  };
}

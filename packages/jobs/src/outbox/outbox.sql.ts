/**
 * The relay's statements. Claims lock only the rows being published and skip rows another relay
 * holds, so replicas share the backlog.
 *
 * Each statement names its rows by an array of ids (`id = ANY(ARRAY(...))`, `id = ANY($1)`), never
 * by `id IN (subquery)`: with a semi-join, statistics taken while a backlog waited led the planner
 * to hash-join a sequential scan of the whole table, on every round, for as long as those
 * statistics stood. An array of ids can only be looked up by primary key.
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
  /** The registered type's pool; null on jobs created before the registry. */
  pool: string | null;
  /** The priority class's code (priority.ts); a retry or redrive republishes the row, so keeps it. */
  priority: number;
  /** Stored at submit for a tenant over its threshold: the job takes its pool's overflow lane. */
  overflow: boolean;
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

/** One row of a claim: a job or an event, with the columns the other kind lacks left null. */
export interface ClaimedRow {
  kind: 'job' | 'event';
  id: string;
  job_id: string | null;
  type: string;
  tenant: string;
  owner: string | null;
  job_type: string | null;
  body: unknown;
  created_at: Date;
  run_at: Date | null;
  max_attempts: number | null;
  timeout_seconds: number | null;
  traceparent: string | null;
  request_id: string | null;
  pool: string | null;
  priority: number | null;
  overflow: boolean | null;
}

/**
 * Claims up to `limit` unpublished jobs of each lane (regular, overflow: docs/design.md, "Fairness
 * between tenants"), each oldest first, and up to `limit` unpublished events in one statement, so
 * a relay round costs one round trip to claim. The rows are locked, not yet written: the caller's
 * transaction marks them with `markPublished` once Kafka acknowledged them. A written row would
 * hold up, until that transaction ends, every insert that meets its idempotency key (Postgres
 * waits for the writer to learn whether the key survives), so a client's retry or a second
 * scheduler's fire would wait on Kafka; a row lock alone holds up only other writers of the row.
 * An event's job row is read, not locked, so workers are never held up.
 */
export function claimBatch(limit: number): Statement {
  return {
    name: 'outbox.claim-batch',
    text: `WITH job_rows AS (
             SELECT id, type, tenant, payload, created_at, run_at, max_attempts, timeout_seconds, traceparent, request_id, pool, priority, overflow
               FROM jobs
              -- A lane each: a quiet tenant's job waits behind one round of a burst at most, and
              -- the burst still moves every round.
              WHERE id = ANY (ARRAY(SELECT id FROM jobs
                                     WHERE status = 'queued' AND published_at IS NULL AND NOT overflow
                                     ORDER BY overflow, created_at
                                     LIMIT $1
                                       FOR UPDATE SKIP LOCKED)
                              || ARRAY(SELECT id FROM jobs
                                        WHERE status = 'queued' AND published_at IS NULL AND overflow
                                        ORDER BY overflow, created_at
                                        LIMIT $1
                                          FOR UPDATE SKIP LOCKED))
           ), event_rows AS (
             SELECT id, job_id, type, data, created_at
               FROM job_events
              WHERE id = ANY (ARRAY(SELECT id FROM job_events
                                     WHERE published_at IS NULL
                                     ORDER BY id
                                     LIMIT $1
                                       FOR UPDATE SKIP LOCKED))
           )
           SELECT 'job' AS kind, id::text AS id, NULL::uuid AS job_id, type, tenant, NULL::text AS owner,
                  NULL::text AS job_type, payload AS body, created_at, run_at, max_attempts, timeout_seconds,
                  traceparent, request_id, pool, priority, overflow
             FROM job_rows
           UNION ALL
           SELECT 'event', e.id::text, e.job_id, e.type, j.tenant, j.owner, j.type, e.data, e.created_at,
                  NULL, NULL, NULL, j.traceparent, j.request_id, NULL, NULL, NULL
             FROM event_rows e JOIN jobs j ON j.id = e.job_id`,
    values: [limit],
  };
}

/** Marks claimed rows published, inside the claiming transaction, after Kafka acknowledged them. */
export function markPublished(jobIds: readonly string[], eventIds: readonly string[]): Statement {
  return {
    name: 'outbox.mark-published',
    text: `WITH marked_jobs AS (
             UPDATE jobs SET published_at = now() WHERE id = ANY ($1::uuid[])
           ), marked_events AS (
             UPDATE job_events SET published_at = now() WHERE id = ANY ($2::bigint[])
           )
           SELECT 1`,
    values: [jobIds, eventIds],
  };
}

/**
 * Splits a claim into its jobs, oldest first, and its events, in insertion order (RETURNING has
 * no order of its own).
 */
export function splitClaim(rows: readonly ClaimedRow[]): { jobs: UnpublishedJobRow[]; events: UnpublishedEventRow[] } {
  const jobs: UnpublishedJobRow[] = [];
  const events: UnpublishedEventRow[] = [];
  for (const row of rows) {
    const { id, type, tenant, created_at, traceparent, request_id } = row;
    if (row.kind === 'job') {
      jobs.push({
        id,
        type,
        tenant,
        payload: row.body,
        created_at,
        run_at: row.run_at,
        max_attempts: row.max_attempts!,
        timeout_seconds: row.timeout_seconds!,
        traceparent,
        request_id,
        pool: row.pool,
        priority: row.priority ?? 0,
        overflow: row.overflow ?? false,
      });
    } else {
      events.push({
        id,
        job_id: row.job_id!,
        type,
        data: row.body as Record<string, unknown>,
        created_at,
        tenant,
        owner: row.owner!,
        job_type: row.job_type!,
        traceparent,
        request_id,
      });
    }
  }
  jobs.sort((a, b) => a.created_at.getTime() - b.created_at.getTime());
  events.sort((a, b) => Number(BigInt(a.id) - BigInt(b.id)));
  return { jobs, events };
}

/** Rows waiting to be published; both counts are served by partial indexes. */
export function countBacklog(): Statement {
  return {
    text: `SELECT (SELECT count(*) FROM jobs WHERE status = 'queued' AND published_at IS NULL)::int AS jobs,
                  (SELECT count(*) FROM job_events WHERE published_at IS NULL)::int AS job_events`,
    values: [],
  };
}

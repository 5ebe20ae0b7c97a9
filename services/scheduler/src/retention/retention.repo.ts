import type { Queryable } from '@conveyor/jobs';
import type { FinishedJobsRule } from './policy.js';

export interface DeletedJobs {
  count: number;
  /** Objects in the results bucket that belonged to the deleted jobs. */
  resultKeys: string[];
  /** Where the next batch of the same pass starts: the latest finished_at deleted. */
  reached: Date | null;
}

/**
 * Deletes up to `limit` finished jobs past their rule (their events, notifications and webhook
 * deliveries go with them by ON DELETE CASCADE), oldest first from `from`. The index jobs_finished
 * bounds the scan by the shortest rule; each job then follows the first rule that matches it
 * (rules come most specific first), and a rule of null seconds keeps its jobs.
 */
export async function deleteFinishedJobs(db: Queryable, rules: FinishedJobsRule[], from: Date | null, limit: number): Promise<DeletedJobs> {
  const keeps = rules.map((r) => r.keepSeconds).filter((k): k is number => k !== null);
  if (keeps.length === 0) return { count: 0, resultKeys: [], reached: null };
  const { rows } = await db.query<{ result_key: string | null; finished_at: Date }>(
    `WITH rules AS (
       SELECT * FROM unnest($1::text[], $2::text[], $3::float8[]) WITH ORDINALITY AS r(tenant, type, keep_seconds, rank)
     ), doomed AS (
       SELECT j.id FROM jobs j
        WHERE j.status IN ('success', 'failed', 'cancelled')
          AND j.finished_at < now() - make_interval(secs => $4)
          AND ($5::timestamptz IS NULL OR j.finished_at >= $5)
          AND j.finished_at < now() - make_interval(secs => (
                SELECT r.keep_seconds FROM rules r
                 WHERE (r.tenant IS NULL OR r.tenant = j.tenant) AND (r.type IS NULL OR r.type = j.type)
                 ORDER BY r.rank LIMIT 1))
        ORDER BY j.finished_at
        LIMIT $6
        FOR UPDATE SKIP LOCKED
     )
     DELETE FROM jobs j USING doomed d WHERE j.id = d.id
     RETURNING j.result_key, j.finished_at`,
    [rules.map((r) => r.tenant), rules.map((r) => r.type), rules.map((r) => r.keepSeconds), Math.min(...keeps), from, limit],
  );
  const reached = rows.reduce<Date | null>((latest, r) => (latest && latest > r.finished_at ? latest : r.finished_at), null);
  return { count: rows.length, resultKeys: rows.flatMap((r) => (r.result_key ? [r.result_key] : [])), reached };
}

export interface ExpiredResults {
  count: number;
  /** Objects in the results bucket of the results dropped. */
  resultKeys: string[];
}

/**
 * Drops up to `limit` results kept longer than their job type's resultRetentionSeconds after the
 * job finished (copied onto the job at submit); the job and its events stay. Reads jobs_result_expiry,
 * which holds only the kept results of types with a limit.
 */
export async function expireResults(db: Queryable, limit: number): Promise<ExpiredResults> {
  const { rows } = await db.query<{ result_key: string | null }>(
    `WITH due AS (
       SELECT id, result_key FROM jobs
        WHERE status = 'success' AND result_retention_seconds IS NOT NULL AND result_expired_at IS NULL
          AND finished_at < now() - make_interval(secs => result_retention_seconds)
        ORDER BY finished_at
        LIMIT $1
        FOR UPDATE SKIP LOCKED
     )
     UPDATE jobs j SET result = NULL, result_key = NULL, result_expired_at = now(), updated_at = now()
       FROM due WHERE j.id = due.id
     RETURNING due.result_key`,
    [limit],
  );
  return { count: rows.length, resultKeys: rows.flatMap((r) => (r.result_key ? [r.result_key] : [])) };
}

/** Forgets up to `limit` idempotency keys older than `keepSeconds`: a later submit with the key makes a new job. */
export async function forgetIdempotencyKeys(db: Queryable, keepSeconds: number, limit: number): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE jobs SET idempotency_key = NULL, request_hash = NULL
      WHERE id IN (SELECT id FROM jobs
                    WHERE idempotency_key IS NOT NULL AND created_at < now() - make_interval(secs => $1)
                    ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)`,
    [keepSeconds, limit],
  );
  return rowCount ?? 0;
}

/** Deletes up to `limit` notifications older than `keepSeconds`, read or not. */
export async function deleteNotifications(db: Queryable, keepSeconds: number, limit: number): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM notifications
      WHERE id IN (SELECT id FROM notifications WHERE created_at < now() - make_interval(secs => $1)
                    ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)`,
    [keepSeconds, limit],
  );
  return rowCount ?? 0;
}

export interface TableStats {
  table: string;
  /** The planner's estimate (pg_class.reltuples): exact counts would scan the table at every scrape. */
  rows: number;
  bytes: number;
  /** Age of the oldest row retention will remove (finished jobs, events, notifications); 0 when none. */
  oldestSeconds: number;
}

/** Size and age of the tables retention keeps in check; each age is one index probe. */
export async function readTableStats(db: Queryable): Promise<TableStats[]> {
  const { rows } = await db.query<{ table: string; rows: number; bytes: string; oldest_seconds: number | null }>(
    `SELECT t.name AS table, greatest(c.reltuples, 0)::float8 AS rows, pg_total_relation_size(c.oid) AS bytes,
            EXTRACT(EPOCH FROM now() - CASE t.name
              WHEN 'jobs' THEN (SELECT min(finished_at) FROM jobs WHERE status IN ('success', 'failed', 'cancelled'))
              WHEN 'job_events' THEN (SELECT created_at FROM job_events ORDER BY id LIMIT 1)
              WHEN 'notifications' THEN (SELECT min(created_at) FROM notifications)
            END)::float8 AS oldest_seconds
       FROM unnest(ARRAY['jobs', 'job_events', 'notifications']) AS t(name)
       JOIN pg_class c ON c.oid = to_regclass(t.name)`,
  );
  return rows.map((r) => ({ table: r.table, rows: r.rows, bytes: Number(r.bytes), oldestSeconds: Math.max(0, r.oldest_seconds ?? 0) }));
}

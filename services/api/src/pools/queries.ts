/** A pool's numbers from Postgres, for one tenant or (null) all of them. */
import type { Queryable } from '@conveyor/jobs';

export interface PoolJobNumbers {
  waiting: number;
  processing: number;
  oldestWaitingSeconds: number | null;
  finished1m: number;
  finished5m: number;
  alive: number;
  dbNow: Date;
}

/**
 * Index-backed scans only, so the cost follows what waits and runs, never the history: the waiting
 * jobs of the pool's types (jobs_backlog), its processing ones (jobs_processing_heartbeat) and the
 * jobs finished in the last five minutes (jobs_finished). One scan with the three states in one
 * IN list matched no partial index and walked the whole table (test/plans/periodic-queries.test.ts).
 */
export async function poolJobNumbers(db: Queryable, jobTypes: readonly string[], tenant: string | null): Promise<PoolJobNumbers> {
  const { rows } = await db.query<PoolJobNumbers>(
    `WITH live AS (
       SELECT status, run_at, created_at, heartbeat_at, locked_by FROM jobs
        WHERE status IN ('queued', 'retrying') AND type = ANY($1::text[]) AND ($2::text IS NULL OR tenant = $2)
       UNION ALL
       SELECT status, run_at, created_at, heartbeat_at, locked_by FROM jobs
        WHERE status = 'processing' AND type = ANY($1::text[]) AND ($2::text IS NULL OR tenant = $2)
     ), done AS (
       SELECT finished_at FROM jobs
        WHERE finished_at > now() - interval '5 minutes' AND status IN ('success', 'failed')
          AND type = ANY($1::text[]) AND ($2::text IS NULL OR tenant = $2)
     )
     SELECT (SELECT count(*)::int FROM live WHERE status IN ('queued', 'retrying')) AS waiting,
            (SELECT count(*)::int FROM live WHERE status = 'processing') AS processing,
            (SELECT extract(epoch FROM now() - min(COALESCE(run_at, created_at)))::float8 FROM live WHERE status = 'queued') AS "oldestWaitingSeconds",
            (SELECT count(*)::int FROM done WHERE finished_at > now() - interval '1 minute') AS "finished1m",
            (SELECT count(*)::int FROM done) AS "finished5m",
            (SELECT count(DISTINCT locked_by)::int FROM live WHERE status = 'processing' AND heartbeat_at > now() - interval '1 minute') AS alive,
            now() AS "dbNow"`,
    [jobTypes, tenant],
  );
  return rows[0]!;
}

import type { Queryable } from '@conveyor/jobs';

export interface TypeBacklog {
  type: string;
  /** Jobs waiting for a worker: queued (published or not) or retrying. */
  waiting: number;
  /** Age of the oldest queued job, from when it became due (run_at) or was created. */
  oldestSeconds: number;
}

/**
 * What the database says is waiting, per job type. Postgres, not SQS, because it still answers
 * when every worker is scaled to zero and no queue reader is alive.
 */
export async function readJobBacklog(db: Queryable): Promise<TypeBacklog[]> {
  const { rows } = await db.query<{ type: string; waiting: string; oldest_seconds: number | null }>(
    `SELECT type, count(*) AS waiting,
            EXTRACT(EPOCH FROM now() - min(greatest(created_at, coalesce(run_at, created_at)))
                    FILTER (WHERE status = 'queued'))::float8 AS oldest_seconds
       FROM jobs
      WHERE status IN ('queued', 'retrying')
      GROUP BY type`,
  );
  return rows.map((r) => ({ type: r.type, waiting: Number(r.waiting), oldestSeconds: Math.max(0, r.oldest_seconds ?? 0) }));
}

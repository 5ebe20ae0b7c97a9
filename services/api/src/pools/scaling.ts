/**
 * How many workers a pool needs to finish its work within a target time, for KEDA (a metrics-api
 * trigger on the api's ops port, next to the queue-depth triggers; KEDA takes the largest). Depth
 * alone treats a 50 ms job like a 5 min one; this weighs each waiting job by how long jobs of its
 * type ran lately, so a slow type gets more workers than a fast one at the same depth. A cron fire
 * due within the lead time counts as work already waiting, so a pool scaled to zero has a worker
 * up when it fires.
 */
import { z } from 'zod';
import type { Queryable } from '@conveyor/jobs';

export interface TypeLoad {
  type: string;
  /** Jobs due now and not started (queued or retrying). */
  waiting: number;
  processing: number;
  /** Mean run time of the type's latest finished jobs; null when none finished lately. */
  runSeconds: number | null;
}

export interface UpcomingFire {
  schedule: string;
  tenant: string;
  jobType: string;
  at: Date;
}

export interface ScalingInput {
  loads: TypeLoad[];
  upcoming: UpcomingFire[];
  concurrency: number;
  targetDrainSeconds: number;
  paused: boolean;
}

/** A type never seen finishing is assumed this long (a guess that errs towards one more worker). */
export const UNKNOWN_RUN_SECONDS = 1;

export function desiredWorkers(input: ScalingInput) {
  const known = input.loads.filter((l) => l.runSeconds !== null);
  // A type without history: the pool's other types' mean, else the guess.
  const fallback = known.length ? known.reduce((sum, l) => sum + l.runSeconds!, 0) / known.length : UNKNOWN_RUN_SECONDS;
  const runOf = (type: string) => input.loads.find((l) => l.type === type)?.runSeconds ?? fallback;
  const processing = input.loads.reduce((sum, l) => sum + l.processing, 0);
  // A paused pool starts nothing: only its running jobs keep workers.
  const waitingWorkSeconds = input.paused
    ? 0
    : input.loads.reduce((sum, l) => sum + l.waiting * runOf(l.type), 0) + input.upcoming.reduce((sum, f) => sum + runOf(f.jobType), 0);
  // Slots: one per running job, plus enough to get through the waiting work in the target time.
  const slots = processing + waitingWorkSeconds / input.targetDrainSeconds;
  // The epsilon keeps float dust (100.00000001 slots) from asking for a whole extra worker.
  let workers = Math.max(0, Math.ceil(slots / input.concurrency - 1e-9));
  if (!input.paused && input.upcoming.length) workers = Math.max(workers, 1);
  return { desiredWorkers: workers, waitingWorkSeconds, processing };
}

/** The query string KEDA's URL carries (from the chart's or the WorkerPool's settings). */
export const scalingQuery = z
  .object({
    concurrency: z.coerce.number().int().min(1).max(1000),
    targetDrainSeconds: z.coerce.number().int().min(1).max(86_400).default(60),
    leadSeconds: z.coerce.number().int().min(0).max(3600).default(120),
  })
  .strict();

/**
 * Waiting and running jobs of each type, each state through its own partial index (jobs_backlog,
 * jobs_processing_heartbeat): the three states in one IN list match neither and walk the table.
 */
export async function readTypeLoads(db: Queryable, types: readonly string[]): Promise<TypeLoad[]> {
  const { rows } = await db.query<{ type: string; waiting: number; processing: number; run_seconds: number | null }>(
    `WITH live AS (
       SELECT type, count(*) FILTER (WHERE status IN ('queued', 'retrying') AND coalesce(run_at, created_at) <= now())::int AS waiting,
              count(*) FILTER (WHERE status = 'processing')::int AS processing
         FROM (SELECT type, status, run_at, created_at FROM jobs WHERE status IN ('queued', 'retrying') AND type = ANY($1::text[])
               UNION ALL
               SELECT type, status, run_at, created_at FROM jobs WHERE status = 'processing' AND type = ANY($1::text[])) live_jobs
        GROUP BY type
     ), recent AS (
       -- The latest 500 finished runs of the pool's types in the last 15 minutes (jobs_finished_recent, newest first).
       SELECT type, extract(epoch FROM finished_at - started_at)::float8 AS seconds FROM jobs
        WHERE finished_at > now() - interval '15 minutes' AND status IN ('success', 'failed') AND started_at IS NOT NULL
          AND type = ANY($1::text[])
        ORDER BY finished_at DESC LIMIT 500
     ), runs AS (SELECT type, avg(seconds)::float8 AS run_seconds FROM recent GROUP BY type)
     SELECT t.type, coalesce(live.waiting, 0) AS waiting, coalesce(live.processing, 0) AS processing, runs.run_seconds
       FROM unnest($1::text[]) AS t(type) LEFT JOIN live USING (type) LEFT JOIN runs USING (type)`,
    [types],
  );
  return rows.map((r) => ({ type: r.type, waiting: r.waiting, processing: r.processing, runSeconds: r.run_seconds }));
}

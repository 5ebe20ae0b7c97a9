import { createJob, isTerminal, type CreateJobOutcome, type JobStatus, type Queryable } from '@conveyor/jobs';
import type { PreviousJob } from './decide.js';

export interface Fire {
  tenant: string;
  owner: string;
  jobType: string;
  payload: unknown;
  idempotencyKey: string;
}

/** The scheduler's view of jobs for schedules: fire one, look at one, cancel one. */
export interface ScheduleJobs {
  fire(fire: Fire): Promise<CreateJobOutcome>;
  jobState(jobId: string): Promise<PreviousJob | undefined>;
  cancel(jobId: string, reason: string): Promise<void>;
  /** The latest fire recorded in the database for a schedule: status survives restarts outside Kubernetes. */
  lastFire(tenant: string, keyPrefix: string): Promise<{ fireTime: Date; jobId: string } | undefined>;
}

export function scheduleJobsRepo(db: Queryable): ScheduleJobs {
  return {
    // The idempotency key makes this the single place a fire becomes a job, however often it is tried.
    fire: (fire) =>
      createJob(db, { tenant: fire.tenant, owner: fire.owner, type: fire.jobType, payload: fire.payload, idempotencyKey: fire.idempotencyKey }),

    async jobState(jobId) {
      const { rows } = await db.query<{ id: string; status: JobStatus }>('SELECT id, status FROM jobs WHERE id = $1', [jobId]);
      return rows[0] ? { id: rows[0].id, finished: isTerminal(rows[0].status) } : undefined;
    },

    // As the api's DELETE (contract 8): not yet running -> cancelled now; running -> its worker aborts it.
    async cancel(jobId, reason) {
      await db.query(
        `WITH flagged AS (
           UPDATE jobs SET cancel_requested = true, updated_at = now(),
                  status = CASE WHEN status IN ('scheduled', 'queued', 'retrying') THEN 'cancelled' ELSE status END,
                  finished_at = CASE WHEN status IN ('scheduled', 'queued', 'retrying') THEN now() ELSE finished_at END
            WHERE id = $1 AND status NOT IN ('success', 'failed', 'cancelled') AND NOT cancel_requested
           RETURNING id, status
         )
         INSERT INTO job_events (job_id, type, data)
         SELECT id, 'cancelled', jsonb_build_object('reason', $2::text, 'requested', true) FROM flagged WHERE status = 'cancelled'`,
        [jobId, reason],
      );
    },

    async lastFire(tenant, keyPrefix) {
      const { rows } = await db.query<{ id: string; idempotency_key: string }>(
        `SELECT id, idempotency_key FROM jobs
          WHERE tenant = $1 AND left(idempotency_key, length($2)) = $2
            -- Fires only: a trigger-now's key (prefix + 'now:') is no fire time.
            AND substr(idempotency_key, length($2) + 1) ~ '^[0-9]'
          ORDER BY idempotency_key DESC LIMIT 1`,
        [tenant, keyPrefix],
      );
      const row = rows[0];
      if (!row) return undefined;
      const fireTime = new Date(row.idempotency_key.slice(keyPrefix.length));
      return Number.isNaN(fireTime.getTime()) ? undefined : { fireTime, jobId: row.id };
    },
  };
}

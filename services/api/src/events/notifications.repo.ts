import type { Pool } from '@conveyor/platform';

type Queryable = Pick<Pool, 'query'>;

export interface FinishedJob {
  id: string;
  tenant: string;
  owner: string;
  type: string;
  callbackUrl: string | null;
  error: string | null;
  finishedAt: Date | null;
}

export async function findFinishedJob(db: Queryable, jobId: string): Promise<FinishedJob | undefined> {
  const { rows } = await db.query<FinishedJob>(
    `SELECT id, tenant, owner, type, callback_url AS "callbackUrl", error, finished_at AS "finishedAt"
       FROM jobs WHERE id = $1`,
    [jobId],
  );
  return rows[0];
}

export interface NewNotification {
  tenant: string;
  owner: string;
  jobId: string;
  kind: string;
  message: string;
}

/** Inserts the notice once per (job, kind): a redelivered event is a no-op. True when inserted. */
export async function insertNotification(db: Queryable, n: NewNotification): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO notifications (tenant, owner, job_id, kind, message) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (job_id, kind) DO NOTHING`,
    [n.tenant, n.owner, n.jobId, n.kind, n.message],
  );
  return rowCount === 1;
}

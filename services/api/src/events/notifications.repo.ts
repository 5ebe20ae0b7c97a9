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

/** The jobs of one batch of events, by id; ids of jobs that no longer exist are absent. */
export async function findFinishedJobs(db: Queryable, jobIds: readonly string[]): Promise<Map<string, FinishedJob>> {
  if (jobIds.length === 0) return new Map();
  const { rows } = await db.query<FinishedJob>({
    name: 'notifications.find-finished-jobs',
    text: `SELECT id, tenant, owner, type, callback_url AS "callbackUrl", error, finished_at AS "finishedAt"
       FROM jobs WHERE id = ANY($1::uuid[])`,
    values: [[...new Set(jobIds)]],
  });
  return new Map(rows.map((job) => [job.id, job]));
}

export interface NewNotification {
  tenant: string;
  owner: string;
  jobId: string;
  kind: string;
  message: string;
}

/** Inserts each notice once per (job, kind), in one statement: a redelivered event is a no-op. Returns how many were new. */
export async function insertNotifications(db: Queryable, notices: readonly NewNotification[]): Promise<number> {
  if (notices.length === 0) return 0;
  const { rowCount } = await db.query({
    name: 'notifications.insert',
    text: `INSERT INTO notifications (tenant, owner, job_id, kind, message)
     SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[], $5::text[])
     ON CONFLICT (job_id, kind) DO NOTHING`,
    values: [notices.map((n) => n.tenant), notices.map((n) => n.owner), notices.map((n) => n.jobId), notices.map((n) => n.kind), notices.map((n) => n.message)],
  });
  return rowCount ?? 0;
}

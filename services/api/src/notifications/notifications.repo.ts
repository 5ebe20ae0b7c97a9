import type { Queryable } from '@conveyor/jobs';

export interface Notification {
  id: string;
  jobId: string;
  kind: string;
  message: string;
  createdAt: Date;
}

/** A principal's unread notices, newest first (index notifications_unread). */
export async function listUnread(db: Queryable, tenant: string, owner: string, limit = 100): Promise<Notification[]> {
  const { rows } = await db.query<Notification>(
    `SELECT id, job_id AS "jobId", kind, message, created_at AS "createdAt"
       FROM notifications WHERE tenant = $1 AND owner = $2 AND read_at IS NULL
      ORDER BY created_at DESC LIMIT $3`,
    [tenant, owner, limit],
  );
  return rows;
}

/** False when no such notice belongs to this principal; marking twice keeps the first read time. */
export async function markRead(db: Queryable, id: string, tenant: string, owner: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE notifications SET read_at = coalesce(read_at, now()) WHERE id = $1 AND tenant = $2 AND owner = $3`,
    [id, tenant, owner],
  );
  return (rowCount ?? 0) > 0;
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

/** GET /jobs/{id}/deliveries and POST .../redeliver: reads and one state change of webhook_deliveries. */
import type { Pool } from '@conveyor/platform';

type Queryable = Pick<Pool, 'query'>;

export interface AttemptRow {
  attempt: number;
  startedAt: Date;
  latencyMs: number;
  statusCode: number | null;
  error: string | null;
  nextAttemptAt: Date | null;
}

export interface DeliveryRow {
  id: string;
  tenant: string;
  destination: string;
  url: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  /** While pending: when the next attempt is due. */
  nextAttemptAt: Date;
  /** A dispatcher holds the row: an attempt is in flight now. */
  sending: boolean;
  lastStatusCode: number | null;
  lastError: string | null;
  failureReason: string | null;
  createdAt: Date;
  finishedAt: Date | null;
  attemptLog: AttemptRow[];
}

/** Whether the caller may see the job: another tenant's is as missing as none (404, as GET /jobs/{id}). */
export async function jobVisible(db: Queryable, jobId: string, tenant: string | null): Promise<boolean> {
  const { rowCount } = await db.query({
    name: 'webhook-log.job',
    text: 'SELECT 1 FROM jobs WHERE id = $1 AND ($2::text IS NULL OR tenant = $2)',
    values: [jobId, tenant],
  });
  return (rowCount ?? 0) > 0;
}

/** The job's deliveries, oldest first, each with its attempts in order; or one of them (`deliveryId`). */
export async function listDeliveries(db: Queryable, jobId: string, deliveryId: string | null = null): Promise<DeliveryRow[]> {
  const { rows } = await db.query<Omit<DeliveryRow, 'attemptLog'>>({
    name: 'webhook-log.deliveries',
    text: `SELECT id, tenant, destination, url, status, attempts, next_attempt_at AS "nextAttemptAt", claim_token IS NOT NULL AS sending,
                  last_status_code AS "lastStatusCode", last_error AS "lastError", failure_reason AS "failureReason",
                  created_at AS "createdAt", finished_at AS "finishedAt"
           FROM webhook_deliveries WHERE job_id = $1 AND ($2::uuid IS NULL OR id = $2) ORDER BY created_at, id`,
    values: [jobId, deliveryId],
  });
  if (rows.length === 0) return [];
  const attempts = await db.query<AttemptRow & { deliveryId: string }>({
    name: 'webhook-log.attempts',
    text: `SELECT delivery_id AS "deliveryId", attempt, started_at AS "startedAt", latency_ms AS "latencyMs", status_code AS "statusCode",
                  error, next_attempt_at AS "nextAttemptAt"
           FROM webhook_delivery_attempts WHERE delivery_id = ANY($1::uuid[]) ORDER BY delivery_id, attempt`,
    values: [rows.map((r) => r.id)],
  });
  return rows.map((row) => ({ ...row, attemptLog: attempts.rows.filter((a) => a.deliveryId === row.id).map(({ deliveryId: _, ...a }) => a) }));
}

export type RedeliverOutcome = { kind: 'not-found' } | { kind: 'pending' } | { kind: 'redelivered' };

/**
 * Puts a delivered or failed delivery of a visible job back to pending, due now, with a fresh retry
 * budget and age limit (migration 0013): the dispatcher then sends it as any delivery, signed anew,
 * with the same event id and body. The row is locked, so of two concurrent redelivers one finds it
 * pending. A pending delivery is refused: it is being sent or waits for its retry already.
 */
export async function redeliver(db: Queryable, jobId: string, deliveryId: string, tenant: string | null): Promise<RedeliverOutcome> {
  const { rows } = await db.query<{ redelivered: boolean }>({
    name: 'webhook-log.redeliver',
    text: `WITH target AS (
             SELECT d.id, d.status FROM webhook_deliveries d JOIN jobs j ON j.id = d.job_id
             WHERE d.id = $2 AND d.job_id = $1 AND ($3::text IS NULL OR j.tenant = $3) FOR UPDATE OF d
           ), changed AS (
             UPDATE webhook_deliveries w SET status = 'pending', next_attempt_at = now(), claim_token = NULL, finished_at = NULL,
               failure_reason = NULL, redelivered_at = now(), attempts_before_redelivery = w.attempts, updated_at = now()
             FROM target t WHERE w.id = t.id AND t.status <> 'pending'
             RETURNING w.id
           )
           SELECT c.id IS NOT NULL AS redelivered FROM target t LEFT JOIN changed c ON c.id = t.id`,
    values: [jobId, deliveryId, tenant],
  });
  const row = rows[0];
  if (!row) return { kind: 'not-found' };
  return row.redelivered ? { kind: 'redelivered' } : { kind: 'pending' };
}

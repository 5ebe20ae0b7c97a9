import { createHash, randomUUID } from 'node:crypto';
import { createJob, type JobStatus, type NewJob } from '@conveyor/jobs';
import type { Pool } from '@conveyor/platform';

export interface NewReservation {
  tenant: string;
  owner: string;
  userId: string;
  amount: number;
  executeAt: Date;
  idempotencyKey?: string;
  trace: Pick<NewJob, 'traceparent' | 'traceId' | 'requestId'>;
}

export type ReservationOutcome =
  | { kind: 'created' | 'replayed'; jobId: string; reservationId: string; status: JobStatus }
  | { kind: 'conflict' };

/**
 * With an idempotency key the reservation id is derived from it, so a replay builds the same
 * points.grant payload and createJob recognises it as the same request.
 */
export function reservationIdFor(tenant: string, idempotencyKey?: string): string {
  if (!idempotencyKey) return randomUUID();
  const hex = createHash('sha256').update(`points-reservation\0${tenant}\0${idempotencyKey}`).digest('hex');
  // Shaped as an RFC 9562 version-8 (custom) UUID so strict validators accept it.
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** The reservation and its scheduled points.grant job commit together or not at all. */
export async function createReservation(pool: Pool, r: NewReservation): Promise<ReservationOutcome> {
  const reservationId = reservationIdFor(r.tenant, r.idempotencyKey);
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const job = await createJob(client, {
      tenant: r.tenant,
      owner: r.owner,
      type: 'points.grant',
      payload: { reservationId, userId: r.userId, amount: r.amount },
      runAt: r.executeAt,
      idempotencyKey: r.idempotencyKey,
      ...r.trace,
    });
    if (job.kind === 'conflict') {
      await client.query('ROLLBACK');
      return { kind: 'conflict' };
    }
    if (job.kind === 'created') {
      await client.query(
        `INSERT INTO points_reservations (id, tenant, user_id, amount, execute_at, job_id) VALUES ($1, $2, $3, $4, $5, $6)`,
        [reservationId, r.tenant, r.userId, r.amount, r.executeAt, job.jobId],
      );
    }
    await client.query('COMMIT');
    return { kind: job.kind, jobId: job.jobId, reservationId, status: job.status };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

export async function findBalance(db: Pick<Pool, 'query'>, tenant: string, userId: string): Promise<number> {
  const { rows } = await db.query<{ balance: string }>(
    'SELECT balance::text AS balance FROM points_balances WHERE tenant = $1 AND user_id = $2',
    [tenant, userId],
  );
  return rows[0] ? Number(rows[0].balance) : 0;
}

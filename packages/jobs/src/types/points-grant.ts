import { z } from 'zod';
import { defineJobType, PermanentJobError } from './job-type.js';

export const pointsGrantPayload = z.object({
  reservationId: z.uuid(),
  userId: z.string().min(1).max(128),
  amount: z.number().int().positive().max(1_000_000_000),
});

/**
 * Adds a reservation's points exactly once (seed 004's AddPointIdempotent): the ledger row keyed by
 * the reservation and the balance change commit together, so a redelivery finds the row and adds nothing.
 */
export const pointsGrant = defineJobType({
  type: 'points.grant',
  payload: pointsGrantPayload,
  maxPayloadBytes: 1024,
  example: { reservationId: '3b241101-e2bb-4255-8caf-4136c566a962', userId: 'user-1', amount: 100 },
  handle: async ({ reservationId, userId, amount }, ctx) => {
    const client = await ctx.db.connect();
    try {
      await client.query('BEGIN');
      // A grant that disagrees with its stored reservation would never succeed on a retry either.
      const reservation = await client.query<{ tenant: string; user_id: string; amount: string }>(
        'SELECT tenant, user_id, amount FROM points_reservations WHERE id = $1',
        [reservationId],
      );
      const stored = reservation.rows[0];
      if (stored && (stored.tenant !== ctx.tenant || stored.user_id !== userId || Number(stored.amount) !== amount)) {
        throw new PermanentJobError(`grant does not match reservation ${reservationId}`);
      }
      // Two deliveries racing on one reservation: the second waits on the primary key, then inserts nothing.
      const inserted = await client.query(
        `INSERT INTO points_transactions (reservation_id, tenant, user_id, amount, job_id)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (reservation_id) DO NOTHING`,
        [reservationId, ctx.tenant, userId, amount, ctx.jobId],
      );
      const granted = inserted.rowCount === 1;
      if (granted) {
        await client.query(
          `INSERT INTO points_balances (tenant, user_id, balance) VALUES ($1, $2, $3)
           ON CONFLICT (tenant, user_id)
           DO UPDATE SET balance = points_balances.balance + EXCLUDED.balance, updated_at = now()`,
          [ctx.tenant, userId, amount],
        );
      }
      const { rows } = await client.query<{ balance: string }>(
        'SELECT balance FROM points_balances WHERE tenant = $1 AND user_id = $2',
        [ctx.tenant, userId],
      );
      await client.query('COMMIT');
      return { json: { reservationId, userId, amount, granted, balance: Number(rows[0]?.balance ?? 0) } };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  },
});

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
  handle: async () => {
    throw new PermanentJobError('points.grant handler is not built yet');
  },
});

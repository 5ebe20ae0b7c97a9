import type { RequestHandler } from 'express';
import type { OutboxSignal } from '@conveyor/jobs';
import type { Pool } from '@conveyor/platform';
import { HttpError, requestIdOf } from '../http-errors.js';
import { identityOf } from '../identity.js';
import { createReservation, findBalance } from '../points.repo.js';
import type { PoolStatsCache } from '../pool-stats.js';
import type { JobTypeRegistry } from '../job-types/index.js';
import { parseOr400, traceOf } from '../request.js';
import { checkRunAt, type RunAtWindow } from '../run-at.js';
import { reservationBody, userIdParam } from '../schemas.js';
import { acceptedRetryAfter, sendAccepted } from './accepted.js';
import { idempotencyKeyOf } from './jobs.js';
import type { RouteDef } from './route.js';
import type { SubmittedCounter } from '../metrics.js';

export interface PointsRoutesDeps {
  submitted?: SubmittedCounter;
  pool: Pool;
  outbox: OutboxSignal;
  stats: PoolStatsCache;
  jsonBody: RequestHandler;
  now: () => Date;
  runAtWindow: RunAtWindow;
  /** Most points one reservation may grant; the operator's cap (POINTS_MAX_GRANT). */
  maxGrant: number;
  jobTypes: Pick<JobTypeRegistry, 'poolOf'>;
}

/**
 * Seed 004: a reservation becomes a points.grant job due at runAt; balances per tenant and user.
 * Only callers with the `points:grant` scope get here (the gateway's route table), and no further
 * than the operator's cap per reservation.
 */
export function pointsRoutes(deps: PointsRoutesDeps): RouteDef[] {
  const reserve: RequestHandler = async (req, res) => {
    const body = parseOr400(reservationBody, req.body ?? {});
    if (body.amount > deps.maxGrant) {
      throw new HttpError(422, `amount must be at most ${deps.maxGrant} points per reservation`, { field: 'amount', max: deps.maxGrant });
    }
    const identity = identityOf(res);
    const executeAt = new Date(body.runAt);
    checkRunAt(body.runAtField, executeAt, deps.now(), deps.runAtWindow);
    const outcome = await createReservation(deps.pool, {
      tenant: identity.tenant,
      owner: identity.subject,
      userId: body.userId,
      amount: body.amount,
      executeAt,
      idempotencyKey: idempotencyKeyOf(req),
      trace: traceOf(req, requestIdOf(res)),
    });
    if (outcome.kind === 'conflict') throw new HttpError(409, 'Idempotency-Key was already used with a different request');
    if (outcome.kind === 'created') deps.outbox.written();
    deps.submitted?.inc({ type: 'points.grant', outcome: outcome.kind });
    const retryAfter = acceptedRetryAfter(deps.stats, deps.jobTypes.poolOf('points.grant'), outcome.status, executeAt, deps.now());
    sendAccepted(res, outcome.jobId, retryAfter, { reservationId: outcome.reservationId });
  };

  const balance: RequestHandler = async (req, res) => {
    const { userId } = parseOr400(userIdParam, req.params);
    res.status(200).json({ userId, balance: await findBalance(deps.pool, identityOf(res).tenant, userId) });
  };

  return [
    { method: 'post', path: '/points/reservations', handlers: [deps.jsonBody, reserve] },
    { method: 'get', path: '/points/:userId', handlers: [balance] },
  ];
}

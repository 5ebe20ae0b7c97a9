import type { RequestHandler } from 'express';
import type { Logger, Pool } from '@conveyor/platform';
import { HttpError } from '../http-errors.js';
import { identityOf, readTenant } from '../identity.js';
import { parseIdOr404, parseOr400 } from '../request.js';
import type { RouteDef } from '../routes/route.js';
import { jobIdParam } from '../schemas.js';
import { jobVisible, listDeliveries, redeliver, type DeliveryRow } from './log.queries.js';
import { deliveryParams, rotateSecretBody, type DeliveryView, type WebhookSecretReply } from './schemas.js';
import type { CircuitView } from './sender.js';
import type { SigningSecret, TenantSecrets, WebhookSecrets } from './secrets.js';
import { callbackUrlProblem, type TargetPolicy } from './target.js';

export interface WebhookRoutesDeps {
  secrets: WebhookSecrets;
  jsonBody: RequestHandler;
}

const view = (s: SigningSecret) => ({ id: s.id, secret: s.secret, createdAt: s.createdAt.toISOString(), expiresAt: s.expiresAt?.toISOString() ?? null });

function reply(secrets: TenantSecrets): WebhookSecretReply {
  return { current: view(secrets.current), previous: secrets.previous && view(secrets.previous) };
}

/**
 * The caller's tenant's webhook signing secret: read it, rotate it. Always the caller's own tenant
 * (an admin's too): there is no way to name another one.
 */
export function webhookRoutes(deps: WebhookRoutesDeps): RouteDef[] {
  const show: RequestHandler = async (_req, res) => {
    const secrets = await deps.secrets.forTenant(identityOf(res).tenant);
    res.set('Cache-Control', 'no-store').status(200).json(reply(secrets));
  };

  const rotate: RequestHandler = async (req, res) => {
    const { previousValidForSeconds } = parseOr400(rotateSecretBody, req.body ?? {});
    const secrets = await deps.secrets.rotate(identityOf(res).tenant, previousValidForSeconds);
    res.set('Cache-Control', 'no-store').status(200).json(reply(secrets));
  };

  return [
    { method: 'get', path: '/webhooks/secret', handlers: [show] },
    { method: 'post', path: '/webhooks/secret/rotate', handlers: [deps.jsonBody, rotate] },
  ];
}

/** 422 for a callbackUrl Conveyor will not call: credentials in it, or a literal address the policy refuses. */
export function assertCallbackUrlAllowed(url: string | undefined, policy: TargetPolicy): void {
  if (url === undefined) return;
  const problem = callbackUrlProblem(url, policy);
  if (problem) throw new HttpError(422, `callbackUrl ${problem}`, [{ path: ['callbackUrl'], message: problem }]);
}

/** What the delivery log needs of this process's webhook dispatcher. */
export interface DeliveryLogDeps {
  pool: Pool;
  logger: Logger;
  /** The breaker of a tenant's destination in this process (the dispatcher's, in memory). */
  circuit(tenant: string, destination: string): CircuitView;
  /** Names this api instance in `circuit.observedBy`. */
  instance: string;
  /** Sends a redelivery now rather than at the dispatcher's next poll. */
  wake(): void;
}

/**
 * A job's webhook deliveries with every attempt (GET), and sending one again (POST .../redeliver).
 * Visible exactly as the job is: another tenant's job or delivery is 404, as a missing one.
 */
export function deliveryLogRoutes(deps: DeliveryLogDeps): RouteDef[] {
  const view = (d: DeliveryRow): DeliveryView => ({
    deliveryId: d.id,
    url: d.url,
    status: d.status,
    attempts: d.attempts,
    nextAttemptAt: d.status === 'pending' && !d.sending ? d.nextAttemptAt.toISOString() : null,
    lastStatusCode: d.lastStatusCode,
    lastError: d.lastError,
    failureReason: d.failureReason as DeliveryView['failureReason'],
    createdAt: d.createdAt.toISOString(),
    finishedAt: d.finishedAt?.toISOString() ?? null,
    circuit: { ...deps.circuit(d.tenant, d.destination), observedBy: deps.instance },
    attemptLog: d.attemptLog.map((a) => ({ ...a, startedAt: a.startedAt.toISOString(), nextAttemptAt: a.nextAttemptAt?.toISOString() ?? null })),
  });

  const list: RequestHandler = async (req, res) => {
    const { jobId } = parseIdOr404(jobIdParam, req.params, 'job');
    if (!(await jobVisible(deps.pool, jobId, readTenant(identityOf(res))))) throw new HttpError(404, 'job not found');
    const items = await listDeliveries(deps.pool, jobId);
    res.status(200).json({ items: items.map(view) });
  };

  const again: RequestHandler = async (req, res) => {
    const { jobId } = parseIdOr404(jobIdParam, req.params, 'job');
    const { deliveryId } = parseIdOr404(deliveryParams.pick({ deliveryId: true }), req.params, 'delivery');
    const identity = identityOf(res);
    const tenant = readTenant(identity);
    const outcome = await redeliver(deps.pool, jobId, deliveryId, tenant);
    if (outcome.kind === 'not-found') {
      // Which of the two is missing, told apart only for a job the caller may see.
      throw new HttpError(404, (await jobVisible(deps.pool, jobId, tenant)) ? 'delivery not found' : 'job not found');
    }
    if (outcome.kind === 'pending') throw new HttpError(409, 'the delivery is still pending: it is being sent or waits for its next attempt; redeliver it once it is delivered or failed');
    deps.logger.info({ jobId, deliveryId, by: identity.subject, tenant: identity.tenant }, 'webhook redelivery requested');
    deps.wake();
    const [delivery] = await listDeliveries(deps.pool, jobId, deliveryId);
    res.status(202).json(view(delivery!));
  };

  return [
    { method: 'get', path: '/jobs/:jobId/deliveries', handlers: [list] },
    { method: 'post', path: '/jobs/:jobId/deliveries/:deliveryId/redeliver', handlers: [again] },
  ];
}

import type { RequestHandler } from 'express';
import { HttpError } from '../http-errors.js';
import { identityOf } from '../identity.js';
import { parseOr400 } from '../request.js';
import type { RouteDef } from '../routes/route.js';
import { rotateSecretBody, type WebhookSecretReply } from './schemas.js';
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

/**
 * Pausing and resuming a job type or a tenant (scope conveyor:admin at the gateway). Durable in
 * job_pauses and decided by the claim in Postgres, so it holds across every worker at once; a
 * paused job's message is deleted and the job held in Postgres, and the resume sends it again
 * through the outbox (packages/jobs pauses.ts says why none is lost or run twice).
 */
import type { RequestHandler } from 'express';
import { jobTypeName, listPauses, pause, readPause, resume, tenantName, type OutboxSignal, type PauseChange, type PauseScope, type PauseState } from '@conveyor/jobs';
import type { Logger, Pool } from '@conveyor/platform';
import { z } from 'zod';
import { HttpError } from '../http-errors.js';
import { identityOf } from '../identity.js';
import { parseIdOr404, parseOr400 } from '../request.js';
import type { RouteDef } from '../routes/route.js';
import { countHeld, jobTypeKnown } from './queries.js';
import { pauseBody } from './schemas.js';

const params = { type: z.object({ name: jobTypeName }), tenant: z.object({ tenant: tenantName }) };

export function pauseRoutes(deps: { pool: Pool; jsonBody: RequestHandler; outbox: OutboxSignal; logger?: Logger }): RouteDef[] {
  const view = async (state: PauseState, released?: number) => ({
    scope: state.scope,
    name: state.name,
    paused: state.paused,
    pausedBy: state.pausedBy,
    pausedAt: state.pausedAt?.toISOString() ?? null,
    reason: state.reason,
    held: await countHeld(deps.pool, state.scope, state.name),
    ...(released === undefined ? {} : { released }),
  });

  const target = async (scope: PauseScope, req: Parameters<RequestHandler>[0]): Promise<string> => {
    if (scope === 'tenant') return parseIdOr404(params.tenant, req.params, 'tenant').tenant;
    const { name } = parseIdOr404(params.type, req.params, 'job type');
    if (!(await jobTypeKnown(deps.pool, name))) throw new HttpError(404, 'job type not found');
    return name;
  };

  /** Idempotent: pausing a paused type or tenant (or resuming a running one) answers 200 with its state. */
  const control =
    (scope: PauseScope, paused: boolean): RequestHandler =>
    async (req, res) => {
      const name = await target(scope, req);
      const { reason } = parseOr400(pauseBody, req.body ?? {});
      const actor = identityOf(res).subject;
      const outcome: PauseChange = paused ? await pause(deps.pool, scope, name, actor, reason ?? null) : await resume(deps.pool, scope, name, actor);
      if (outcome.changed || outcome.released > 0) {
        deps.logger?.info({ scope, name, actor, reason, released: outcome.released }, paused ? `${scope} paused` : `${scope} resumed`);
      }
      // Released jobs are unpublished rows: the relays send them now rather than at their next poll.
      if (outcome.released > 0) deps.outbox.written();
      res.status(200).json(await view(outcome.state, paused ? undefined : outcome.released));
    };

  const show =
    (scope: PauseScope): RequestHandler =>
    async (req, res) => {
      res.status(200).json(await view(await readPause(deps.pool, scope, await target(scope, req))));
    };

  const list: RequestHandler = async (_req, res) => {
    res.status(200).json({ items: await Promise.all((await listPauses(deps.pool)).map((state) => view(state))) });
  };

  return [
    { method: 'get', path: '/pauses', handlers: [list] },
    { method: 'get', path: '/job-types/:name/pause', handlers: [show('type')] },
    { method: 'post', path: '/job-types/:name/pause', handlers: [deps.jsonBody, control('type', true)] },
    { method: 'post', path: '/job-types/:name/resume', handlers: [deps.jsonBody, control('type', false)] },
    { method: 'get', path: '/tenants/:tenant/pause', handlers: [show('tenant')] },
    { method: 'post', path: '/tenants/:tenant/pause', handlers: [deps.jsonBody, control('tenant', true)] },
    { method: 'post', path: '/tenants/:tenant/resume', handlers: [deps.jsonBody, control('tenant', false)] },
  ];
}

/**
 * PUT /tenants/{tenant}/quota and GET /tenants/{tenant}/quota (scope conveyor:admin at the gateway):
 * a tenant's limits, stored in tenant_quotas, where the submit and the claim read them in their own
 * statements, so a change holds from the next submit and claim on, with no restart and no cache.
 */
import type { RequestHandler } from 'express';
import type { Logger, Pool } from '@conveyor/platform';
import { HttpError } from '../http-errors.js';
import { identityOf } from '../identity.js';
import { parseIdOr404 } from '../request.js';
import type { RouteDef } from '../routes/route.js';
import { readQuota, readUsage, writeQuota } from './queries.js';
import { quotaLimits, tenantParam } from './schemas.js';

export function quotaRoutes(deps: { pool: Pool; jsonBody: RequestHandler; logger?: Logger }): RouteDef[] {
  const tenantOf = (req: Parameters<RequestHandler>[0]) => parseIdOr404(tenantParam, req.params, 'tenant').tenant;

  const view = async (tenant: string) => {
    const [quota, usage] = await Promise.all([readQuota(deps.pool, tenant), readUsage(deps.pool, tenant)]);
    return {
      tenant,
      limits: quota.limits,
      usage: { queued: usage.queued, running: usage.running, submitsLastMinute: usage.submitsLastMinute },
      updatedBy: quota.updatedBy,
      updatedAt: quota.updatedAt?.toISOString() ?? null,
      observedAt: usage.observedAt.toISOString(),
    };
  };

  const show: RequestHandler = async (req, res) => {
    res.status(200).json(await view(tenantOf(req)));
  };

  /** Replaces the limits; a limit left out is no limit. A negative, fractional or absurd one is 422, naming it. */
  const put: RequestHandler = async (req, res) => {
    const tenant = tenantOf(req);
    const parsed = quotaLimits.safeParse(req.body ?? {});
    if (!parsed.success) {
      const issues = parsed.error.issues.map(({ path, message, code }) => ({ path, message, code }));
      throw new HttpError(422, `invalid quota: ${issues.map((i) => i.message).join('; ')}`, issues);
    }
    const actor = identityOf(res).subject;
    await writeQuota(deps.pool, tenant, parsed.data, actor);
    deps.logger?.info({ tenant, actor, limits: parsed.data }, 'tenant quota set');
    res.status(200).json(await view(tenant));
  };

  return [
    { method: 'get', path: '/tenants/:tenant/quota', handlers: [show] },
    { method: 'put', path: '/tenants/:tenant/quota', handlers: [deps.jsonBody, put] },
  ];
}

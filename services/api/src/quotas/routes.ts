/**
 * PUT /tenants/{tenant}/quota, GET /tenants/{tenant}/quota and GET /quotas (scope conveyor:admin at
 * the gateway): a tenant's limits (every tenant's that has some), stored in tenant_quotas, where the submit and the claim read them in their own
 * statements, so a change holds from the next submit and claim on, with no restart and no cache.
 */
import type { RequestHandler } from 'express';
import type { Logger, Pool } from '@conveyor/platform';
import { HttpError } from '../http-errors.js';
import { identityOf } from '../identity.js';
import { parseIdOr404 } from '../request.js';
import type { RouteDef } from '../routes/route.js';
import { listQuotas, readQuota, readUsage, writeQuota, type QuotaUsage, type TenantQuota } from '@conveyor/jobs';
import { quotaLimits, tenantParam } from './schemas.js';

export function quotaRoutes(deps: { pool: Pool; jsonBody: RequestHandler; logger?: Logger }): RouteDef[] {
  const tenantOf = (req: Parameters<RequestHandler>[0]) => parseIdOr404(tenantParam, req.params, 'tenant').tenant;

  const present = (tenant: string, quota: TenantQuota, usage: QuotaUsage) => ({
    tenant,
    limits: quota.limits,
    usage: { queued: usage.queued, running: usage.running, submitsLastMinute: usage.submitsLastMinute },
    updatedBy: quota.updatedBy,
    managedBy: quota.managedBy,
    updatedAt: quota.updatedAt?.toISOString() ?? null,
    observedAt: usage.observedAt.toISOString(),
  });
  const view = async (tenant: string) => {
    const [quota, usage] = await Promise.all([readQuota(deps.pool, tenant), readUsage(deps.pool, tenant)]);
    return present(tenant, quota, usage);
  };

  /** Every tenant with a quota (the console's Admin page): usage against limits at a glance. */
  const list: RequestHandler = async (_req, res) => {
    const tenants = await listQuotas(deps.pool);
    res.status(200).json({ tenants: tenants.map((q) => present(q.tenant, q, q.usage)) });
  };

  const show: RequestHandler = async (req, res) => {
    res.status(200).json(await view(tenantOf(req)));
  };

  /**
   * Replaces the limits; a limit left out is no limit. A negative, fractional or absurd one is 422,
   * naming it; limits a TenantQuota resource owns are 409, naming the resource.
   */
  const put: RequestHandler = async (req, res) => {
    const tenant = tenantOf(req);
    const parsed = quotaLimits.safeParse(req.body ?? {});
    if (!parsed.success) {
      const issues = parsed.error.issues.map(({ path, message, code }) => ({ path, message, code }));
      throw new HttpError(422, `invalid quota: ${issues.map((i) => i.message).join('; ')}`, issues);
    }
    const actor = identityOf(res).subject;
    const outcome = await writeQuota(deps.pool, tenant, parsed.data, actor);
    if (!outcome.written) {
      // One owner per tenant: limits kept in Git are changed in Git, not overwritten here.
      throw new HttpError(409, `the quota of tenant ${tenant} is managed by TenantQuota ${outcome.managedBy}: change or delete that resource`, {
        managedBy: outcome.managedBy,
      });
    }
    deps.logger?.info({ tenant, actor, limits: parsed.data }, 'tenant quota set');
    res.status(200).json(await view(tenant));
  };

  return [
    { method: 'get', path: '/quotas', handlers: [list] },
    { method: 'get', path: '/tenants/:tenant/quota', handlers: [show] },
    { method: 'put', path: '/tenants/:tenant/quota', handlers: [deps.jsonBody, put] },
  ];
}

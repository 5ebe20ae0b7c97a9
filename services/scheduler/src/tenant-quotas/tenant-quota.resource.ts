import { limitsReached, quotaLimits, tenantName, type QuotaLimitName, type QuotaLimits, type QuotaUsageCounts } from '@conveyor/jobs';
import type { Condition, ConditionInput } from '../operator/conditions.js';
import type { ResourceObject } from '../operator/resource.js';

/**
 * Glossary. TenantQuota: the custom resource holding one tenant's limits. Its tenant is
 * spec.tenant, or the object's name when that is unset. Owner: of several TenantQuotas naming the
 * same tenant (in different namespaces), the oldest; only it writes and removes the limits, the
 * others report Applied=False/TenantConflict. The row it writes carries its namespace/name
 * (tenant_quotas.managed_by), which is how the admin endpoint knows to answer 409.
 */
export const PLURAL = 'tenantquotas';
export const KIND = 'TenantQuota';
/** Held until the limits are removed, so a TenantQuota deleted while no operator ran still frees its tenant. */
export const FINALIZER = 'conveyor.dev/tenant-quota';

export interface TenantQuotaStatus {
  observedGeneration?: number;
  tenant?: string;
  usage?: { queued: number; running: number; submitsLastMinute: number; observedAt: string };
  conditions?: Condition[];
}

export type TenantQuotaObject = ResourceObject<Record<string, unknown>, TenantQuotaStatus>;

export function tenantOf(obj: TenantQuotaObject): string {
  const tenant = obj.spec?.tenant;
  return typeof tenant === 'string' ? tenant : obj.metadata.name;
}

export type SpecCheck = { ok: true; tenant: string; limits: QuotaLimits } | { ok: false; message: string };

/** The CRD already refused bad limits; this re-checks them with the admin endpoint's own rules (one definition). */
export function checkSpec(obj: TenantQuotaObject): SpecCheck {
  const tenant = tenantName.safeParse(tenantOf(obj));
  if (!tenant.success) return { ok: false, message: `tenant: ${tenant.error.issues[0]!.message}` };
  const { tenant: _tenant, ...limits } = obj.spec ?? {};
  const parsed = quotaLimits.safeParse(limits);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { ok: false, message: `${issue.path.join('.') || 'spec'}: ${issue.message}` };
  }
  return { ok: true, tenant: tenant.data, limits: parsed.data };
}

export const sameLimits = (a: QuotaLimits, b: QuotaLimits) => a.maxQueued === b.maxQueued && a.maxRunning === b.maxRunning && a.submitsPerMinute === b.submitsPerMinute;

/**
 * AtLimit from usage against the limits: True (reason the first limit reached) while any usage
 * stands at or over its limit, with every figure in the message either way.
 */
export function atLimitCondition(limits: QuotaLimits, usage: QuotaUsageCounts): ConditionInput {
  const figures: Array<[number, number | null, string]> = [
    [usage.running, limits.maxRunning, 'running'],
    [usage.queued, limits.maxQueued, 'queued'],
    [usage.submitsLastMinute, limits.submitsPerMinute, 'submitted in the last minute'],
  ];
  const message = figures.map(([used, limit, what]) => `${used}${limit === null ? '' : ` of ${limit}`} ${what}`).join(', ');
  const reached = limitsReached(limits, usage)[0];
  return reached
    ? { type: 'AtLimit', status: 'True', reason: REACHED[reached], message }
    : { type: 'AtLimit', status: 'False', reason: 'WithinLimits', message };
}

const REACHED: Record<QuotaLimitName, string> = { maxRunning: 'MaxRunningReached', maxQueued: 'MaxQueuedReached', submitsPerMinute: 'SubmitsPerMinuteReached' };

/** "maxQueued 100, maxRunning 2" (the limits set). */
export function describeLimits(limits: QuotaLimits): string {
  return (Object.entries(limits) as Array<[string, number | null]>)
    .filter(([, v]) => v !== null)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}

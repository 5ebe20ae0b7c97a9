/** tenant_quotas (migration 0020): a tenant's limits, and its usage against them. */
import type { Queryable } from '@conveyor/jobs';

export interface QuotaLimits {
  maxQueued: number | null;
  maxRunning: number | null;
  submitsPerMinute: number | null;
}

export interface TenantQuota {
  limits: QuotaLimits;
  updatedBy: string | null;
  updatedAt: Date | null;
}

export interface QuotaUsage {
  queued: number;
  running: number;
  submitsLastMinute: number;
  observedAt: Date;
}

const NO_LIMITS: QuotaLimits = { maxQueued: null, maxRunning: null, submitsPerMinute: null };

export async function readQuota(db: Queryable, tenant: string): Promise<TenantQuota> {
  const { rows } = await db.query<QuotaLimits & { updatedBy: string; updatedAt: Date }>(
    `SELECT max_queued AS "maxQueued", max_running AS "maxRunning", submits_per_minute AS "submitsPerMinute",
            updated_by AS "updatedBy", updated_at AS "updatedAt"
       FROM tenant_quotas WHERE tenant = $1`,
    [tenant],
  );
  const row = rows[0];
  if (!row) return { limits: NO_LIMITS, updatedBy: null, updatedAt: null };
  const { updatedBy, updatedAt, ...limits } = row;
  return { limits, updatedBy, updatedAt };
}

/**
 * Replaces the tenant's limits (a null is no such limit); limits all null remove its row, so the
 * tenant is back on the free path (design.md). The next submit and claim read the new row.
 */
export async function writeQuota(db: Queryable, tenant: string, limits: QuotaLimits, actor: string): Promise<void> {
  if (limits.maxQueued === null && limits.maxRunning === null && limits.submitsPerMinute === null) {
    await db.query('DELETE FROM tenant_quotas WHERE tenant = $1', [tenant]);
    return;
  }
  await db.query(
    `INSERT INTO tenant_quotas (tenant, max_queued, max_running, submits_per_minute, updated_by, updated_at)
     VALUES ($1, $2, $3, $4, $5, now())
     ON CONFLICT (tenant) DO UPDATE
        SET max_queued = EXCLUDED.max_queued, max_running = EXCLUDED.max_running,
            submits_per_minute = EXCLUDED.submits_per_minute, updated_by = EXCLUDED.updated_by, updated_at = now()`,
    [tenant, limits.maxQueued, limits.maxRunning, limits.submitsPerMinute, actor],
  );
}

/** The tenant's waiting and running jobs and its creations in the last minute (index-backed counts). */
export async function readUsage(db: Queryable, tenant: string): Promise<QuotaUsage> {
  const { rows } = await db.query<QuotaUsage>(
    `SELECT (SELECT count(*)::int FROM jobs WHERE tenant = $1 AND status IN ('scheduled', 'queued', 'retrying')) AS queued,
            (SELECT count(*)::int FROM jobs WHERE tenant = $1 AND status = 'processing') AS running,
            (SELECT count(*)::int FROM jobs WHERE tenant = $1 AND created_at > now() - interval '1 minute') AS "submitsLastMinute",
            now() AS "observedAt"`,
    [tenant],
  );
  return rows[0]!;
}

/** The most tenants GET /quotas answers (the ones with a quota, by name). */
export const MAX_LISTED_QUOTAS = 1000;

/** Every tenant with a quota, its limits and its usage, in one statement (each count index-backed). */
export async function listQuotas(db: Queryable): Promise<Array<TenantQuota & { tenant: string; usage: QuotaUsage }>> {
  const { rows } = await db.query<QuotaLimits & QuotaUsage & { tenant: string; updatedBy: string; updatedAt: Date }>(
    `SELECT q.tenant, q.max_queued AS "maxQueued", q.max_running AS "maxRunning", q.submits_per_minute AS "submitsPerMinute",
            q.updated_by AS "updatedBy", q.updated_at AS "updatedAt",
            (SELECT count(*)::int FROM jobs WHERE tenant = q.tenant AND status IN ('scheduled', 'queued', 'retrying')) AS queued,
            (SELECT count(*)::int FROM jobs WHERE tenant = q.tenant AND status = 'processing') AS running,
            (SELECT count(*)::int FROM jobs WHERE tenant = q.tenant AND created_at > now() - interval '1 minute') AS "submitsLastMinute",
            now() AS "observedAt"
       FROM tenant_quotas q ORDER BY q.tenant LIMIT $1`,
    [MAX_LISTED_QUOTAS],
  );
  return rows.map(({ tenant, maxQueued, maxRunning, submitsPerMinute, updatedBy, updatedAt, queued, running, submitsLastMinute, observedAt }) => ({
    tenant,
    limits: { maxQueued, maxRunning, submitsPerMinute },
    updatedBy,
    updatedAt,
    usage: { queued, running, submitsLastMinute, observedAt },
  }));
}

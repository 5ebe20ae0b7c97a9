/**
 * tenant_quotas (migrations 0020, 0025): a tenant's limits, and its usage against them. Written by
 * the admin endpoint (PUT /tenants/{tenant}/quota) and by the operator from TenantQuota resources,
 * both through writeQuota; a row a resource owns (managed_by) is the resource's alone.
 */
import type { Queryable } from '../store/create.js';
import type { QuotaLimits } from './spec.js';

export interface TenantQuota {
  limits: QuotaLimits;
  updatedBy: string | null;
  updatedAt: Date | null;
  /** The TenantQuota resource (namespace/name) that owns the limits; null when the admin endpoint set them. */
  managedBy: string | null;
}

export interface QuotaUsage {
  queued: number;
  running: number;
  submitsLastMinute: number;
  observedAt: Date;
}

const NO_LIMITS: QuotaLimits = { maxQueued: null, maxRunning: null, submitsPerMinute: null };

export async function readQuota(db: Queryable, tenant: string): Promise<TenantQuota> {
  const { rows } = await db.query<QuotaLimits & { updatedBy: string; updatedAt: Date; managedBy: string | null }>(
    `SELECT max_queued AS "maxQueued", max_running AS "maxRunning", submits_per_minute AS "submitsPerMinute",
            updated_by AS "updatedBy", updated_at AS "updatedAt", managed_by AS "managedBy"
       FROM tenant_quotas WHERE tenant = $1`,
    [tenant],
  );
  const row = rows[0];
  if (!row) return { limits: NO_LIMITS, updatedBy: null, updatedAt: null, managedBy: null };
  const { updatedBy, updatedAt, managedBy, ...limits } = row;
  return { limits, updatedBy, updatedAt, managedBy };
}

export type QuotaWrite = { written: true } | { written: false; managedBy: string };

/**
 * Replaces the tenant's limits (a null is no such limit); limits all null remove its row, so the
 * tenant is back on the free path (design.md). The next submit and claim read the new row.
 *
 * `managedBy` names the TenantQuota resource writing (the operator); without it the admin endpoint
 * writes. A row owned by a resource is changed only by that resource: any other writer gets
 * `{ written: false, managedBy }` and nothing changes (the endpoint's 409). A resource takes over a
 * row the endpoint wrote. One statement, so a concurrent writer cannot slip between check and write.
 */
export async function writeQuota(db: Queryable, tenant: string, limits: QuotaLimits, actor: string, managedBy: string | null = null): Promise<QuotaWrite> {
  const none = limits.maxQueued === null && limits.maxRunning === null && limits.submitsPerMinute === null;
  const { rows } = await db.query<{ written: boolean; owner: string | null }>(
    none
      ? `WITH gone AS (DELETE FROM tenant_quotas WHERE tenant = $1 AND managed_by IS NOT DISTINCT FROM $2 RETURNING 1)
         SELECT EXISTS (SELECT 1 FROM gone) OR NOT EXISTS (SELECT 1 FROM tenant_quotas WHERE tenant = $1) AS written,
                (SELECT managed_by FROM tenant_quotas WHERE tenant = $1) AS owner`
      : `WITH upsert AS (
           INSERT INTO tenant_quotas AS q (tenant, max_queued, max_running, submits_per_minute, updated_by, updated_at, managed_by)
           VALUES ($1, $3, $4, $5, $6, now(), $2)
           ON CONFLICT (tenant) DO UPDATE
              SET max_queued = EXCLUDED.max_queued, max_running = EXCLUDED.max_running,
                  submits_per_minute = EXCLUDED.submits_per_minute, updated_by = EXCLUDED.updated_by, updated_at = now(),
                  managed_by = EXCLUDED.managed_by
            WHERE q.managed_by IS NULL OR q.managed_by = EXCLUDED.managed_by
           RETURNING 1)
         SELECT EXISTS (SELECT 1 FROM upsert) AS written, (SELECT managed_by FROM tenant_quotas WHERE tenant = $1) AS owner`,
    none ? [tenant, managedBy] : [tenant, managedBy, limits.maxQueued, limits.maxRunning, limits.submitsPerMinute, actor],
  );
  const row = rows[0]!;
  return row.written || row.owner === null ? { written: true } : { written: false, managedBy: row.owner };
}

/** Removes the limits a TenantQuota resource set (its deletion); limits someone else owns stay. */
export async function releaseQuota(db: Queryable, tenant: string, managedBy: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM tenant_quotas WHERE tenant = $1 AND managed_by = $2', [tenant, managedBy]);
  return (rowCount ?? 0) > 0;
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
  const { rows } = await db.query<QuotaLimits & QuotaUsage & { tenant: string; updatedBy: string; updatedAt: Date; managedBy: string | null }>(
    `SELECT q.tenant, q.max_queued AS "maxQueued", q.max_running AS "maxRunning", q.submits_per_minute AS "submitsPerMinute",
            q.updated_by AS "updatedBy", q.updated_at AS "updatedAt", q.managed_by AS "managedBy",
            (SELECT count(*)::int FROM jobs WHERE tenant = q.tenant AND status IN ('scheduled', 'queued', 'retrying')) AS queued,
            (SELECT count(*)::int FROM jobs WHERE tenant = q.tenant AND status = 'processing') AS running,
            (SELECT count(*)::int FROM jobs WHERE tenant = q.tenant AND created_at > now() - interval '1 minute') AS "submitsLastMinute",
            now() AS "observedAt"
       FROM tenant_quotas q ORDER BY q.tenant LIMIT $1`,
    [MAX_LISTED_QUOTAS],
  );
  return rows.map(({ tenant, maxQueued, maxRunning, submitsPerMinute, updatedBy, updatedAt, managedBy, queued, running, submitsLastMinute, observedAt }) => ({
    tenant,
    limits: { maxQueued, maxRunning, submitsPerMinute },
    updatedBy,
    updatedAt,
    managedBy,
    usage: { queued, running, submitsLastMinute, observedAt },
  }));
}

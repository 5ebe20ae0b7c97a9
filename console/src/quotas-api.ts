/** Tenants' quotas and their usage (scope conveyor:admin): GET /quotas, PUT /tenants/{tenant}/quota. */
import { getJson, sendJson } from './api';

export interface QuotaLimits {
  maxQueued: number | null;
  maxRunning: number | null;
  submitsPerMinute: number | null;
}

export interface TenantQuota {
  tenant: string;
  limits: QuotaLimits;
  usage: { queued: number; running: number; submitsLastMinute: number };
  updatedBy: string | null;
  /** The TenantQuota resource (namespace/name) that owns these limits; the API refuses to change them (409). */
  managedBy: string | null;
  updatedAt: string | null;
  observedAt: string;
}

export function listQuotas(signal: AbortSignal): Promise<TenantQuota[]> {
  return getJson<{ tenants: TenantQuota[] }>('/quotas', { signal }).then((r) => r.tenants);
}

export function setQuota(tenant: string, limits: QuotaLimits): Promise<TenantQuota> {
  return sendJson('PUT', `/tenants/${encodeURIComponent(tenant)}/quota`, limits);
}

/** A limit field as typed: empty is no limit; anything else goes to the API as typed, which says what is wrong with it. */
export function limitOf(text: string): number | null {
  const trimmed = text.trim();
  return trimmed === '' ? null : Number(trimmed);
}

/**
 * A tenant's limits (design.md "Quotas and concurrency limits"): one definition for the admin
 * endpoint (PUT /tenants/{tenant}/quota) and the TenantQuota resource's operator. The bounds are
 * migration 0020's CHECKs and the CRD's CEL rules, with the same messages.
 */
import { z } from 'zod';

/** The bounds migration 0020 checks too: each check counts at most this many rows. */
export const QUOTA_BOUNDS = { maxQueued: 100_000, maxRunning: 10_000, submitsPerMinute: 100_000 } as const;
export type QuotaLimitName = keyof typeof QUOTA_BOUNDS;

const limit = (name: QuotaLimitName, what: string) =>
  z
    .number({ error: `${name} must be a whole number from 1 to ${QUOTA_BOUNDS[name]}, or null for no limit` })
    .int(`${name} must be a whole number`)
    .min(1, `${name} must be at least 1 (null for no limit)`)
    .max(QUOTA_BOUNDS[name], `${name} may be at most ${QUOTA_BOUNDS[name]}`)
    .nullable()
    .describe(`${what} At most ${QUOTA_BOUNDS[name]}; null or absent: no limit.`);

export const quotaLimits = z
  .object({
    maxQueued: limit('maxQueued', 'Jobs waiting (scheduled, queued or retrying) at most: a submit over it is 429 and stores nothing.').default(null),
    maxRunning: limit('maxRunning', 'Jobs running at once at most, across every worker: more wait (`waitingReason: tenant_concurrency_limit`).').default(null),
    submitsPerMinute: limit('submitsPerMinute', 'Jobs submitted in any sliding minute at most: a submit over it is 429 and stores nothing.').default(null),
  })
  .strict();

export type QuotaLimits = z.infer<typeof quotaLimits>;

/** A tenant name as the api takes it in a path (and a TenantQuota in spec.tenant). */
export const tenantName = z.string().min(1).max(128);

export interface QuotaUsageCounts {
  queued: number;
  running: number;
  submitsLastMinute: number;
}

/** The limits the usage stands at (or over), most pressing first: running, queued, submits. */
export function limitsReached(limits: QuotaLimits, usage: QuotaUsageCounts): QuotaLimitName[] {
  const pairs: Array<[QuotaLimitName, number]> = [
    ['maxRunning', usage.running],
    ['maxQueued', usage.queued],
    ['submitsPerMinute', usage.submitsLastMinute],
  ];
  return pairs.filter(([name, used]) => limits[name] !== null && used >= limits[name]).map(([name]) => name);
}

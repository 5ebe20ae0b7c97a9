import { listQuotas, limitsReached, type Queryable } from '@conveyor/jobs';

/** One tenant's jobs not yet finished, split by state and by the reason last recorded for a wait. */
export interface TenantJobs {
  tenant: string;
  queued: number;
  running: number;
  /** Waiting jobs by jobs.waiting_reason (a limit or a pause held them at their last delivery). */
  throttled: Record<string, number>;
  /** Each quota limit the tenant has: 1 when it stands at it, else 0 (for `other`: how many stand at it). */
  atLimit: Record<string, number>;
}

/**
 * Every tenant with unfinished jobs or a quota, from Postgres (one pass over the unfinished jobs,
 * plus listQuotas' index-backed counts for the tenants with limits).
 */
export async function readTenantJobs(db: Queryable): Promise<TenantJobs[]> {
  const [{ rows }, quotas] = await Promise.all([
    db.query<{ tenant: string; running: boolean; reason: string | null; n: number }>(
      `SELECT tenant, status = 'processing' AS running, waiting_reason AS reason, count(*)::int AS n
         FROM jobs WHERE status IN ('scheduled', 'queued', 'retrying', 'processing')
        GROUP BY 1, 2, 3`,
    ),
    listQuotas(db),
  ]);
  const byTenant = new Map<string, TenantJobs>();
  const of = (tenant: string) => {
    let t = byTenant.get(tenant);
    if (!t) byTenant.set(tenant, (t = { tenant, queued: 0, running: 0, throttled: {}, atLimit: {} }));
    return t;
  };
  for (const row of rows) {
    const t = of(row.tenant);
    if (row.running) t.running += row.n;
    else {
      t.queued += row.n;
      if (row.reason) t.throttled[row.reason] = (t.throttled[row.reason] ?? 0) + row.n;
    }
  }
  for (const q of quotas) {
    const reached = new Set(limitsReached(q.limits, q.usage));
    const set = Object.entries(q.limits).filter(([, v]) => v !== null);
    of(q.tenant).atLimit = Object.fromEntries(set.map(([name]) => [name, reached.has(name as never) ? 1 : 0]));
  }
  return [...byTenant.values()];
}

export const OTHER_TENANTS = 'other';

/**
 * Keeps the tenant label bounded: the `topN` tenants by weight keep their name (those at a limit
 * first, then by queued + running, then by name), every other one is summed under `other`.
 */
export function boundTenants(tenants: readonly TenantJobs[], topN: number): TenantJobs[] {
  const ranked = [...tenants].sort(
    (a, b) => Number(reachedAny(b)) - Number(reachedAny(a)) || b.queued + b.running - (a.queued + a.running) || a.tenant.localeCompare(b.tenant),
  );
  const kept = ranked.slice(0, topN);
  const rest = ranked.slice(topN);
  if (rest.length === 0) return kept;
  const other: TenantJobs = { tenant: OTHER_TENANTS, queued: 0, running: 0, throttled: {}, atLimit: {} };
  for (const t of rest) {
    other.queued += t.queued;
    other.running += t.running;
    for (const [reason, n] of Object.entries(t.throttled)) other.throttled[reason] = (other.throttled[reason] ?? 0) + n;
    for (const [limit, n] of Object.entries(t.atLimit)) other.atLimit[limit] = (other.atLimit[limit] ?? 0) + n;
  }
  return [...kept, other];
}

const reachedAny = (t: TenantJobs) => Object.values(t.atLimit).some((n) => n > 0);

import { describe, expect, it } from 'vitest';
import { boundTenants, type TenantJobs } from './tenants.repo.js';

const t = (tenant: string, queued: number, running = 0, atLimit: Record<string, number> = {}, throttled: Record<string, number> = {}): TenantJobs => ({ tenant, queued, running, throttled, atLimit });

describe('the per-tenant metrics label', () => {
  it('keeps the top N tenants, those at a limit first, and sums the rest as other', () => {
    const rows = [t('big', 5000, 10), t('small', 1, 0, { maxRunning: 1 }, { tenant_concurrency_limit: 1 }), t('mid', 40, 2), t('tiny', 2, 0, { maxRunning: 0 }, { rate_limited: 2 }), t('tiny2', 3, 1, { maxQueued: 1 })];
    expect(boundTenants(rows, 3)).toEqual([
      t('tiny2', 3, 1, { maxQueued: 1 }),
      t('small', 1, 0, { maxRunning: 1 }, { tenant_concurrency_limit: 1 }),
      t('big', 5000, 10),
      t('other', 42, 2, { maxRunning: 0 }, { rate_limited: 2 }),
    ]);
    expect(boundTenants(rows, 10)).toHaveLength(5);
    expect(boundTenants([t('a', 1), t('b', 1), t('c', 1)], 1).map((x) => x.tenant)).toEqual(['a', 'other']);
  });
});

import { describe, expect, it } from 'vitest';
import { atLimitCondition, checkSpec, describeLimits, tenantOf, type TenantQuotaObject } from './tenant-quota.resource.js';

const obj = (name: string, spec: Record<string, unknown>): TenantQuotaObject => ({ metadata: { name, namespace: 'a' }, spec });

describe('TenantQuota resources', () => {
  it('names the tenant by spec.tenant, else by the object', () => {
    expect(tenantOf(obj('acme', { tenant: 'Acme EU' }))).toBe('Acme EU');
    expect(tenantOf(obj('acme', {}))).toBe('acme');
  });

  it('parses the limits with the admin endpoint rules, absent ones being no limit', () => {
    expect(checkSpec(obj('acme', { maxRunning: 2 }))).toEqual({ ok: true, tenant: 'acme', limits: { maxQueued: null, maxRunning: 2, submitsPerMinute: null } });
    expect(checkSpec(obj('acme', { maxRunning: -1 }))).toEqual({ ok: false, message: 'maxRunning: maxRunning must be at least 1 (null for no limit)' });
    expect(checkSpec(obj('acme', { maxQueued: 100_001 }))).toEqual({ ok: false, message: 'maxQueued: maxQueued may be at most 100000' });
    expect(checkSpec(obj('acme', { maxRuning: 2 }))).toMatchObject({ ok: false, message: expect.stringMatching(/Unrecognized key/) });
  });

  it('reports AtLimit with the first limit reached and every figure', () => {
    const limits = { maxQueued: 10, maxRunning: 2, submitsPerMinute: null };
    expect(atLimitCondition(limits, { queued: 3, running: 1, submitsLastMinute: 40 })).toEqual({
      type: 'AtLimit',
      status: 'False',
      reason: 'WithinLimits',
      message: '1 of 2 running, 3 of 10 queued, 40 submitted in the last minute',
    });
    expect(atLimitCondition(limits, { queued: 10, running: 2, submitsLastMinute: 0 })).toMatchObject({ status: 'True', reason: 'MaxRunningReached' });
    expect(atLimitCondition({ ...limits, maxRunning: null }, { queued: 12, running: 2, submitsLastMinute: 0 })).toMatchObject({ status: 'True', reason: 'MaxQueuedReached' });
    expect(describeLimits(limits)).toBe('maxQueued 10, maxRunning 2');
  });
});

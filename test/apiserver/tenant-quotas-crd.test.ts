import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { chartCrdFixture, rejection } from './crds.js';

const { ref, objects, make: tenantQuota, create } = chartCrdFixture('tenantquotas.conveyor.dev.yaml', 'TenantQuota', 'tenantquotas');

describe('TenantQuota CRD on a real kube-apiserver', () => {
  it('accepts limits within their bounds, with or without spec.tenant', async () => {
    const created = await create(tenantQuota('acme', { maxQueued: 100000, maxRunning: 10000, submitsPerMinute: 1 }));
    expect(created.spec).toEqual({ maxQueued: 100000, maxRunning: 10000, submitsPerMinute: 1 });
    // A tenant name an object name cannot hold goes in spec.tenant.
    const named = await create(tenantQuota('acme-eu', { tenant: 'Acme EU_1', maxRunning: 2 }));
    expect(named.spec).toEqual({ tenant: 'Acme EU_1', maxRunning: 2 });
  });

  it.each([
    ['a negative maxRunning', { maxRunning: -1 }, /maxRunning must be at least 1 \(leave it out for no limit\)/],
    ['a zero maxQueued', { maxQueued: 0 }, /maxQueued must be at least 1/],
    ['an absurd maxQueued', { maxQueued: 100001 }, /maxQueued may be at most 100000/],
    ['an absurd maxRunning', { maxRunning: 1000000 }, /maxRunning may be at most 10000/],
    ['an absurd submitsPerMinute', { submitsPerMinute: 2 ** 40 }, /submitsPerMinute may be at most 100000/],
    ['a fractional limit', { maxRunning: 1.5 }, /spec\.maxRunning: Invalid value: "number": spec\.maxRunning in body must be of type integer/],
    ['a limit as a string', { maxRunning: '5' }, /spec\.maxRunning/],
    ['no limit at all', {}, /give at least one limit \(maxQueued, maxRunning or submitsPerMinute\); delete the TenantQuota to remove them all/],
    ['an empty tenant', { tenant: '', maxRunning: 1 }, /spec\.tenant/],
    ['a tenant over 128 characters', { tenant: 'x'.repeat(129), maxRunning: 1 }, /spec\.tenant/],
  ])('refuses %s with a clear message', async (_case, spec, message) => {
    const name = `bad-${Math.random().toString(36).slice(2, 8)}`;
    const { code, text } = await rejection(create(tenantQuota(name, spec)));
    expect(code).toBe(422);
    expect(text).toMatch(message);
  });

  it('refuses unknown fields under strict validation', async () => {
    const { code, text } = await rejection(create(tenantQuota('typo', { maxRuning: 2 })));
    expect(code).toBe(400);
    expect(text).toMatch(/unknown field "spec\.maxRuning"/);
  });

  it('keeps spec.tenant immutable, while the limits may change', async () => {
    await create(tenantQuota('pinned', { tenant: 'pinned-one', maxRunning: 1 }));
    const patch = (spec: Record<string, unknown>) =>
      objects().patchNamespacedCustomObject({ ...ref, name: 'pinned', body: { spec } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    const renamed = await rejection(patch({ tenant: 'pinned-two' }));
    expect(renamed.code).toBe(422);
    expect(renamed.text).toMatch(/spec\.tenant is immutable/);
    const negative = await rejection(patch({ maxRunning: -3 }));
    expect(negative.text).toMatch(/maxRunning must be at least 1/);
    const changed = (await patch({ maxRunning: 7, maxQueued: 50 })) as { spec: Record<string, unknown> };
    expect(changed.spec).toEqual({ tenant: 'pinned-one', maxRunning: 7, maxQueued: 50 });
  });
});

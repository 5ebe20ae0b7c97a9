import { PatchStrategy, setHeaderOptions, type CustomObjectsApi, type KubernetesObject } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pool } from '@conveyor/platform';
import { BUILD_TIMEOUT_MS } from '../../../test/apiserver/harness.js';
import { prepareNamespace } from '../../../test/support/platform.js';
import { startService, type RunningService } from '../../../test/support/service-process.js';
import { waitFor } from '../../../test/support/wait.js';
import { gatewayAs, INTERNAL_TOKEN } from '../../api/test/support/api-under-test.js';
import { startKubernetesFixture, type KubernetesFixture } from './kubernetes-fixture.js';

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  observedGeneration: number;
}
interface TenantQuota extends KubernetesObject {
  spec: Record<string, unknown>;
  status?: {
    observedGeneration?: number;
    tenant?: string;
    usage?: { queued: number; running: number; submitsLastMinute: number; observedAt: string };
    conditions?: Condition[];
  };
}
interface Row {
  max_queued: number | null;
  max_running: number | null;
  submits_per_minute: number | null;
  managed_by: string | null;
}

/**
 * TenantQuota resources on a real kube-apiserver, reconciled by a real scheduler (the operator)
 * into the Postgres table the submit and the claim read, next to a real api whose admin endpoint
 * must give way to the resource (409) and whose submits the limits refuse (429).
 */
describe('the scheduler (operator) reconciles TenantQuotas into tenant_quotas', () => {
  let fixture: KubernetesFixture;
  let pool: Pool;
  let objects: CustomObjectsApi;
  let namespace: string;
  let scheduler: RunningService | undefined;
  let api: RunningService;
  let admin: ReturnType<typeof gatewayAs>;
  let acme: ReturnType<typeof gatewayAs>;
  const ref = () => ({ group: 'conveyor.dev', version: 'v1alpha1', namespace, plural: 'tenantquotas' });
  const start = async () => {
    scheduler = await startService('scheduler', { ...fixture.env, HOSTNAME: 'operator', RECONCILE_INTERVAL_MS: '60000', OPERATOR_RESYNC_MS: '1000' });
  };

  beforeAll(async () => {
    fixture = await startKubernetesFixture('tq');
    ({ pool, objects, namespace } = fixture);
    await prepareNamespace(fixture.env);
    [api] = await Promise.all([startService('api', { ...fixture.env, SCHEDULES_SOURCE: 'postgres', INTERNAL_TOKEN }), start()]);
    admin = gatewayAs(api.url, { tenant: 'ops', subject: 'root@ops', scopes: 'jobs:read jobs:write conveyor:admin' });
    acme = gatewayAs(api.url, { tenant: 'acme', subject: 'ann@acme' });
  }, BUILD_TIMEOUT_MS + 180_000);

  afterAll(async () => {
    await Promise.all([scheduler?.stop('SIGKILL'), api?.stop('SIGKILL')]);
    await fixture?.stop();
  }, 60_000);

  const create = (name: string, spec: Record<string, unknown>) =>
    objects.createNamespacedCustomObject({ ...ref(), body: { apiVersion: 'conveyor.dev/v1alpha1', kind: 'TenantQuota', metadata: { name }, spec } }) as Promise<TenantQuota>;
  const read = (name: string) => objects.getNamespacedCustomObject({ ...ref(), name }) as Promise<TenantQuota>;
  const patch = (name: string, body: Record<string, unknown>) =>
    objects.patchNamespacedCustomObject({ ...ref(), name, body }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)) as Promise<TenantQuota>;
  const remove = (name: string) => objects.deleteNamespacedCustomObject({ ...ref(), name });
  const gone = async (name: string) => read(name).then(() => false, (error: { code?: number }) => error.code === 404);
  const row = async (tenant: string) =>
    (await pool.query<Row>('SELECT max_queued, max_running, submits_per_minute, managed_by FROM tenant_quotas WHERE tenant = $1', [tenant])).rows[0];
  const condition = (obj: TenantQuota, type: string) => obj.status?.conditions?.find((c) => c.type === type);
  /** The object once its status describes `generation` and `done` holds. */
  const reconciled = (name: string, generation: number, done: (obj: TenantQuota) => boolean = () => true) =>
    waitFor(`TenantQuota ${name} reconciled at generation ${generation}`, async () => {
      const obj = await read(name);
      return obj.status?.observedGeneration === generation && condition(obj, 'Applied')?.observedGeneration === generation && done(obj) ? obj : undefined;
    });
  const submit = (n: number) => acme('/jobs/batch', { method: 'POST', body: { jobs: Array.from({ length: n }, () => ({ type: 'noop', payload: {} })) } });

  it('writes the limits into Postgres as owned by the resource, and reports Applied and usage against them', async () => {
    await create('acme', { maxQueued: 3, maxRunning: 2 });
    const obj = await reconciled('acme', 1);
    expect(condition(obj, 'Applied')).toMatchObject({ status: 'True', reason: 'Applied', message: 'limits of tenant acme: maxQueued 3, maxRunning 2' });
    expect(condition(obj, 'AtLimit')).toMatchObject({ status: 'False', reason: 'WithinLimits', message: '0 of 2 running, 0 of 3 queued, 0 submitted in the last minute' });
    expect(obj.metadata?.finalizers).toEqual(['conveyor.dev/tenant-quota']);
    expect(await row('acme')).toEqual({ max_queued: 3, max_running: 2, submits_per_minute: null, managed_by: `${namespace}/acme` });

    // The limits hold at the api at once: no worker runs here, so three jobs wait and a fourth is refused.
    expect((await submit(3)).status).toBe(202);
    const refused = await submit(1);
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { details: { limit: string } }).details.limit).toBe('maxQueued');

    // The periodic recount shows the tenant at its limit, without any change to the resource.
    const full = await waitFor('usage at the limit', async () => {
      const o = await read('acme');
      return condition(o, 'AtLimit')?.status === 'True' ? o : undefined;
    });
    expect(full.status?.usage).toMatchObject({ queued: 3, running: 0, submitsLastMinute: 3 });
    expect(condition(full, 'AtLimit')).toMatchObject({ reason: 'MaxQueuedReached', message: '0 of 2 running, 3 of 3 queued, 3 submitted in the last minute' });
    expect(full.metadata?.generation).toBe(1);
  });

  it('answers the admin endpoint 409 naming the resource, changing nothing, while GET shows who manages the limits', async () => {
    const put = await admin('/tenants/acme/quota', { method: 'PUT', body: { maxRunning: 50 } });
    expect(put.status).toBe(409);
    const body = (await put.json()) as { error: string; details: { managedBy: string } };
    expect(body.error).toBe(`the quota of tenant acme is managed by TenantQuota ${namespace}/acme: change or delete that resource`);
    expect(body.details.managedBy).toBe(`${namespace}/acme`);
    const cleared = await admin('/tenants/acme/quota', { method: 'PUT', body: {} });
    expect(cleared.status).toBe(409);
    expect(await row('acme')).toMatchObject({ max_running: 2, managed_by: `${namespace}/acme` });
    const shown = (await (await admin('/tenants/acme/quota')).json()) as { managedBy: string; limits: Record<string, unknown> };
    expect(shown).toMatchObject({ managedBy: `${namespace}/acme`, limits: { maxQueued: 3, maxRunning: 2, submitsPerMinute: null } });
  });

  it('applies a changed spec as the new limits', async () => {
    await patch('acme', { spec: { maxQueued: null, submitsPerMinute: 600 } });
    const obj = await reconciled('acme', 2, (o) => condition(o, 'Applied')?.message === 'limits of tenant acme: maxRunning 2, submitsPerMinute 600');
    expect(condition(obj, 'Applied')?.status).toBe('True');
    expect(await row('acme')).toEqual({ max_queued: null, max_running: 2, submits_per_minute: 600, managed_by: `${namespace}/acme` });
    expect((await submit(1)).status).toBe(202);
  });

  it('takes over limits the admin endpoint set, and lets only the oldest of two resources for one tenant own them', async () => {
    const put = await admin('/tenants/globex/quota', { method: 'PUT', body: { maxRunning: 9 } });
    expect(put.status).toBe(200);
    expect(await row('globex')).toMatchObject({ max_running: 9, managed_by: null });

    await create('globex-a', { tenant: 'globex', maxRunning: 4 });
    expect(condition(await reconciled('globex-a', 1), 'Applied')?.status).toBe('True');
    expect(await row('globex')).toMatchObject({ max_running: 4, managed_by: `${namespace}/globex-a` });

    await create('globex-b', { tenant: 'globex', maxRunning: 8 });
    const b = await reconciled('globex-b', 1);
    expect(condition(b, 'Applied')).toMatchObject({ status: 'False', reason: 'TenantConflict', message: `tenant globex is limited by TenantQuota ${namespace}/globex-a, which is older` });
    expect(condition(b, 'AtLimit')).toBeUndefined();
    expect(await row('globex')).toMatchObject({ max_running: 4 });

    // The owner's deletion removes its limits; the other resource then owns the tenant.
    await remove('globex-a');
    await waitFor('globex-a gone', () => gone('globex-a'));
    await waitFor('globex-b applied', async () => condition(await read('globex-b'), 'Applied')?.status === 'True');
    expect(await row('globex')).toEqual({ max_queued: null, max_running: 8, submits_per_minute: null, managed_by: `${namespace}/globex-b` });
  });

  it('removes the limits when the resource is deleted, even while no operator ran (the finalizer held it)', async () => {
    await scheduler!.stop('SIGTERM');
    await remove('acme');
    expect((await read('acme')).metadata?.deletionTimestamp).toBeDefined();
    expect(await row('acme')).toBeDefined();

    await start();
    await waitFor('the TenantQuota gone', () => gone('acme'), 60_000);
    expect(await row('acme')).toBeUndefined();
    // The endpoint owns the tenant again.
    expect((await admin('/tenants/acme/quota', { method: 'PUT', body: { maxRunning: 5 } })).status).toBe(200);
    expect(await row('acme')).toMatchObject({ max_running: 5, managed_by: null });
  });
});

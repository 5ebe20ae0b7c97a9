import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, CustomObjectsApi, KubeConfig, PatchStrategy, RbacAuthorizationV1Api, setHeaderOptions, type V1Role, type V1RoleBinding } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { BUILD_TIMEOUT_MS } from '../../../test/apiserver/harness.js';
import { prepareNamespace } from '../../../test/support/platform.js';
import { startService, type RunningService } from '../../../test/support/service-process.js';
import { readUntil } from '../../../test/support/wait.js';
import { startKubernetesFixture, type KubernetesFixture } from '../../scheduler/test/kubernetes-fixture.js';
import { objectName } from '../src/schedules/kubernetes.store.js';
import { gatewayAs, INTERNAL_TOKEN } from './support/api-under-test.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

interface Resource {
  metadata: { name: string; uid: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: Record<string, unknown>;
}
interface Schedule {
  name: string;
  tenant: string;
  schedule: string;
  suspend: boolean;
  nextFireTimes: string[];
  lastRuns: Array<{ jobId: string; trigger: string }>;
  scheduler: { ready: boolean; reason: string } | null;
}

/** The chart's Role and RoleBinding for the api (templates/rbac-api.yaml), with its few template expressions filled in. */
async function chartRbac(namespace: string) {
  const text = (await readFile(path.join(ROOT, 'charts/conveyor/templates/rbac-api.yaml'), 'utf8'))
    .split('\n')
    .filter((line) => !/^\s*\{\{-/.test(line) && !/^\s*labels:\s*$/.test(line))
    .join('\n')
    .replaceAll('{{ $api }}', 'conveyor-api')
    .replaceAll('{{ .Release.Namespace }}', namespace);
  return parseAllDocuments(text).map((d) => d.toJS() as (V1Role | V1RoleBinding) & { kind: string });
}

/**
 * SCHEDULES_SOURCE=kubernetes: /schedules writes JobSchedule custom resources on a real
 * kube-apiserver, as the api's ServiceAccount with the chart's Role (RBAC checked for real), and a
 * scheduler watching that namespace fires what the api created.
 */
describe('/schedules on Kubernetes custom resources', () => {
  let fixture: KubernetesFixture;
  let api: RunningService;
  let scheduler: RunningService;
  let objects: CustomObjectsApi;
  let asApi: CustomObjectsApi;
  let acme: ReturnType<typeof gatewayAs>;
  let globex: ReturnType<typeof gatewayAs>;
  let namespace: string;
  const ref = () => ({ group: 'conveyor.dev', version: 'v1alpha1', namespace, plural: 'jobschedules' });

  beforeAll(async () => {
    fixture = await startKubernetesFixture('sch');
    ({ objects, namespace } = fixture);
    // The api's identity: its ServiceAccount with the chart's Role, and a token of it.
    const core = fixture.kc.makeApiClient(CoreV1Api);
    const rbac = fixture.kc.makeApiClient(RbacAuthorizationV1Api);
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'conveyor-api' } } });
    for (const doc of await chartRbac(namespace)) {
      if (doc.kind === 'Role') await rbac.createNamespacedRole({ namespace, body: doc as V1Role });
      if (doc.kind === 'RoleBinding') await rbac.createNamespacedRoleBinding({ namespace, body: doc as V1RoleBinding });
    }
    const token = (await core.createNamespacedServiceAccountToken({ name: 'conveyor-api', namespace, body: { spec: { audiences: [], expirationSeconds: 3600 } } })).status!.token;
    const saKc = new KubeConfig();
    saKc.loadFromFile(fixture.api.kubeconfigPath);
    const kubeconfig = path.join(path.dirname(fixture.api.kubeconfigPath), `${namespace}-api.kubeconfig`);
    const raw = JSON.parse(saKc.exportConfig()) as { users: Array<{ user: Record<string, unknown> }> };
    for (const u of raw.users) u.user = { token };
    await writeFile(kubeconfig, JSON.stringify(raw));
    const apiKc = new KubeConfig();
    apiKc.loadFromFile(kubeconfig);
    asApi = apiKc.makeApiClient(CustomObjectsApi);

    await prepareNamespace(fixture.env);
    [api, scheduler] = await Promise.all([
      startService('api', { ...fixture.env, KUBECONFIG: kubeconfig, SCHEDULES_NAMESPACE: namespace, INTERNAL_TOKEN }),
      startService('scheduler', { ...fixture.env, RECONCILE_INTERVAL_MS: '60000' }),
    ]);
    acme = gatewayAs(api.url, { tenant: 'acme', subject: 'ann@acme' });
    globex = gatewayAs(api.url, { tenant: 'globex', subject: 'gus@globex' });
  }, BUILD_TIMEOUT_MS + 180_000);

  afterAll(async () => {
    await Promise.all([api?.stop('SIGKILL'), scheduler?.stop('SIGKILL')]);
    await fixture?.stop();
  }, 60_000);

  const json = async <T = Schedule>(res: Response | Promise<Response>) => {
    const r = await res;
    return { status: r.status, body: (await r.json()) as T };
  };
  const resource = (tenant: string, name: string) => objects.getNamespacedCustomObject({ ...ref(), name: objectName(tenant, name) }) as Promise<Resource>;

  it('creates the custom resource, which the scheduler fires, and shows its status and runs', async () => {
    const created = await json(acme('/schedules', { method: 'POST', body: { name: 'tick', schedule: '*/2 * * * * *', jobType: 'noop' } }));
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'tick', tenant: 'acme', suspend: false, lastRuns: [] });
    expect(created.body.nextFireTimes).toHaveLength(5);
    const r = await resource('acme', 'tick');
    expect(r.metadata.annotations).toMatchObject({ 'conveyor.dev/tenant': 'acme', 'conveyor.dev/schedule-name': 'tick' });
    expect(r.spec).toEqual({ schedule: '*/2 * * * * *', jobType: 'noop', payload: {}, suspend: false, concurrencyPolicy: 'Allow' });

    const fired = await readUntil('runs of the API-made resource', () => json(acme('/schedules/tick')), (s) => s.body.lastRuns.length >= 2 && s.body.scheduler !== null, 20_000);
    expect(fired.body.scheduler).toMatchObject({ ready: true, reason: 'Scheduled' });
    const { rows } = await fixture.pool.query<{ tenant: string }>('SELECT DISTINCT tenant FROM jobs WHERE idempotency_key LIKE $1', [`schedule:${r.metadata.uid}:%`]);
    expect(rows).toEqual([{ tenant: 'acme' }]);
  });

  it('pauses, resumes, updates and triggers through the resource', async () => {
    const paused = await json(acme('/schedules/tick/pause', { method: 'POST' }));
    expect(paused.body).toMatchObject({ suspend: true, nextFireTimes: [] });
    expect((await resource('acme', 'tick')).spec.suspend).toBe(true);
    await readUntil('Suspended reported', () => json(acme('/schedules/tick')), (s) => s.body.scheduler?.reason === 'Suspended', 10_000);
    const count = async () => (await json(acme('/schedules/tick'))).body.lastRuns.filter((x) => x.trigger === 'schedule').length;
    const before = await count();
    await new Promise((res) => setTimeout(res, 4_500));
    expect(await count()).toBe(before);

    const triggered = await json<{ jobId: string; schedule: Schedule }>(acme('/schedules/tick/trigger', { method: 'POST' }));
    expect(triggered.status).toBe(202);
    expect(triggered.body.schedule.lastRuns[0]).toMatchObject({ jobId: triggered.body.jobId, trigger: 'manual' });

    const patched = await json(acme('/schedules/tick', { method: 'PATCH', body: { schedule: '0 3 * * *', timeZone: 'Europe/Berlin', suspend: false } }));
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ schedule: '0 3 * * *', suspend: false });
    expect((await resource('acme', 'tick')).spec).toMatchObject({ schedule: '0 3 * * *', timeZone: 'Europe/Berlin', suspend: false });
    const cleared = await json(acme('/schedules/tick', { method: 'PATCH', body: { timeZone: null } }));
    expect(cleared.status).toBe(200);
    expect((await resource('acme', 'tick')).spec.timeZone).toBeUndefined();
  });

  it('keeps tenants apart on one namespace, refuses duplicates and bad specs, and deletes', async () => {
    expect((await json(acme('/schedules', { method: 'POST', body: { name: 'tick', schedule: '0 * * * *', jobType: 'noop' } }))).status).toBe(409);
    expect((await globex('/schedules/tick')).status).toBe(404);
    expect((await globex('/schedules/tick', { method: 'DELETE' })).status).toBe(404);
    expect((await json<{ items: Schedule[] }>(globex('/schedules'))).body.items).toEqual([]);
    // The same name in another tenant: another object.
    expect((await globex('/schedules', { method: 'POST', body: { name: 'tick', schedule: '0 1 * * *', jobType: 'noop', suspend: true } })).status).toBe(201);
    expect(objectName('globex', 'tick')).not.toBe(objectName('acme', 'tick'));
    expect((await json(globex('/schedules/tick'))).body.schedule).toBe('0 1 * * *');
    expect((await json(acme('/schedules/tick'))).body.schedule).toBe('0 3 * * *');
    const bad = await json<{ error: string }>(acme('/schedules', { method: 'POST', body: { name: 'bad', schedule: '61 * * * *', jobType: 'noop' } }));
    expect(bad.status).toBe(422);

    // A resource made with kubectl, labelled for a tenant, is that tenant's.
    await objects.createNamespacedCustomObject({
      ...ref(),
      body: { apiVersion: 'conveyor.dev/v1alpha1', kind: 'JobSchedule', metadata: { name: 'by-hand', labels: { 'conveyor.dev/tenant': 'acme' } }, spec: { schedule: '0 5 * * *', jobType: 'noop', suspend: true } },
    });
    expect((await json<{ items: Schedule[] }>(acme('/schedules'))).body.items.map((s) => s.name).sort()).toEqual(['by-hand', 'tick']);

    expect((await acme('/schedules/tick', { method: 'DELETE' })).status).toBe(204);
    await expect(resource('acme', 'tick')).rejects.toThrow();
    expect((await acme('/schedules/tick')).status).toBe(404);
    expect((await globex('/schedules/tick')).status).toBe(200);
  });

  it('runs as the api ServiceAccount with the chart Role: it may manage JobSchedules, never write their status', async () => {
    const name = objectName('globex', 'tick');
    await expect(
      asApi.patchNamespacedCustomObjectStatus({ ...ref(), name, body: { status: { lastJobId: 'forged' } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)),
    ).rejects.toMatchObject({ code: 403 });
    await expect(asApi.listClusterCustomObject({ group: 'conveyor.dev', version: 'v1alpha1', plural: 'jobschedules' })).rejects.toMatchObject({ code: 403 });
    expect(((await asApi.listNamespacedCustomObject(ref())) as { items: unknown[] }).items.length).toBeGreaterThan(0);
  });
});

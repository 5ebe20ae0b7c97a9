import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  makeInformer,
  PatchStrategy,
  type KubernetesListObject,
  type KubernetesObject,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installCrds, rejection } from './crds.js';
import { BUILD_TIMEOUT_MS, startApiServer, type ApiServer } from './harness.js';
import { waitFor } from '../support/wait.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CRD_FILE = path.join(ROOT, 'charts/conveyor/crds/jobschedules.conveyor.dev.yaml');
const ref = { group: 'conveyor.dev', version: 'v1alpha1', namespace: 'default', plural: 'jobschedules' };

interface JobSchedule extends KubernetesObject {
  spec: Record<string, unknown>;
  status?: Record<string, unknown>;
}

let apiserver: ApiServer;
let objects: CustomObjectsApi;
let kc: KubeConfig;
let established: V1CustomResourceDefinition | undefined;

function schedule(name: string, spec: Record<string, unknown>): JobSchedule {
  return { apiVersion: 'conveyor.dev/v1alpha1', kind: 'JobSchedule', metadata: { name }, spec };
}

const validSpec = { schedule: '*/5 * * * *', jobType: 'report.generate', payload: { reportId: 'r-1' } };

function create(body: JobSchedule, fieldValidation = 'Strict'): Promise<JobSchedule> {
  return objects.createNamespacedCustomObject({ ...ref, body, fieldValidation }) as Promise<JobSchedule>;
}

function read(name: string): Promise<JobSchedule> {
  return objects.getNamespacedCustomObject({ ...ref, name }) as Promise<JobSchedule>;
}

beforeAll(async () => {
  apiserver = await startApiServer();
  kc = new KubeConfig();
  kc.loadFromFile(apiserver.kubeconfigPath);
  objects = kc.makeApiClient(CustomObjectsApi);
  [established] = await installCrds(kc, [CRD_FILE]);
}, BUILD_TIMEOUT_MS + 120_000);

afterAll(async () => {
  await apiserver?.stop();
}, 60_000);

describe('JobSchedule CRD on a real kube-apiserver', () => {
  it('installs from the chart and is Established with its names accepted', () => {
    const conditions = Object.fromEntries((established?.status?.conditions ?? []).map((c) => [c.type, c.status]));
    expect(conditions).toMatchObject({ Established: 'True', NamesAccepted: 'True' });
    expect(established?.status?.acceptedNames?.kind).toBe('JobSchedule');
    expect(established?.status?.storedVersions).toEqual(['v1alpha1']);
  });

  it('accepts a valid JobSchedule under strict field validation and applies the schema defaults', async () => {
    const created = await create(schedule('valid', validSpec));
    expect(created.metadata?.generation).toBe(1);
    expect(created.spec).toEqual({ ...validSpec, suspend: false, concurrencyPolicy: 'Allow' });

    const full = {
      ...validSpec,
      schedule: '0 30 9 * * MON-FRI',
      timeZone: 'Europe/Berlin',
      suspend: true,
      concurrencyPolicy: 'Forbid',
      startingDeadlineSeconds: 300,
      // The payload is free-form for the API server; the scheduler validates it per job type.
      payload: { nested: { anything: [1, 'two'] } },
    };
    expect((await create(schedule('full', full))).spec).toEqual(full);
    expect((await create(schedule('nickname', { ...validSpec, schedule: '@hourly' }))).spec.schedule).toBe('@hourly');
  });

  it.each([
    ['a missing jobType', { schedule: '* * * * *' }, /spec\.jobType: Required value/],
    ['a missing schedule', { jobType: 'report.generate' }, /spec\.schedule: Required value/],
    ['an unknown concurrencyPolicy', { ...validSpec, concurrencyPolicy: 'Sometimes' }, /spec\.concurrencyPolicy: Unsupported value: "Sometimes"/],
    ['a cron with four fields', { ...validSpec, schedule: '* * * *' }, /spec\.schedule/],
    ['a cron with seven fields', { ...validSpec, schedule: '* * * * * * *' }, /spec\.schedule/],
    ['a schedule in prose', { ...validSpec, schedule: 'every five minutes' }, /spec\.schedule/],
    ['a jobType that is not a job type name', { ...validSpec, jobType: 'Report Generate' }, /spec\.jobType/],
    ['a time zone that is not an IANA name', { ...validSpec, timeZone: 'Mars Olympus' }, /spec\.timeZone/],
    ['a negative startingDeadlineSeconds', { ...validSpec, startingDeadlineSeconds: -1 }, /spec\.startingDeadlineSeconds/],
    ['suspend as a string', { ...validSpec, suspend: 'yes' }, /spec\.suspend/],
  ])('rejects %s at the API server', async (_case, spec, message) => {
    const name = `invalid-${Math.random().toString(36).slice(2, 8)}`;
    const { code, text } = await rejection(create(schedule(name, spec)));
    expect(code).toBe(422);
    expect(text).toMatch(message);
    expect((await rejection(read(name))).code).toBe(404);
  });

  it('rejects unknown fields only under fieldValidation=Strict, and prunes them otherwise', async () => {
    const body = schedule('unknown-field', { ...validSpec, retries: 3 });
    const strict = await rejection(create(body));
    expect(strict.code).toBe(400);
    expect(strict.text).toMatch(/unknown field "spec\.retries"/);

    const lenient = await create(body, 'Ignore');
    expect(lenient.spec).not.toHaveProperty('retries');
  });

  it('validates server-side apply dry-runs strictly without storing them (how the chart is checked)', async () => {
    const generic = KubernetesObjectApi.makeApiClient(kc);
    const apply = (obj: JobSchedule) =>
      generic.patch(obj, undefined, 'All', 'conveyor-test', true, PatchStrategy.ServerSideApply);

    const dry = await apply({ ...schedule('dry-run', validSpec), metadata: { name: 'dry-run', namespace: 'default' } });
    expect(dry.spec).toMatchObject({ ...validSpec, concurrencyPolicy: 'Allow' });
    expect((await rejection(read('dry-run'))).code).toBe(404);

    const unknown = await rejection(
      apply({ ...schedule('dry-run', { ...validSpec, retries: 3 }), metadata: { name: 'dry-run', namespace: 'default' } }),
    );
    // The API server answers 500 here (not 4xx), but the message names the field.
    expect(unknown.code).toBeGreaterThanOrEqual(400);
    expect(unknown.text).toMatch(/\.spec\.retries: field not declared in schema/);
  });

  it('writes status only through the status subresource, and bumps generation only on spec changes', async () => {
    const created = await create(schedule('status', validSpec));
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const status = {
      observedGeneration: 1,
      lastScheduleTime: now,
      conditions: [{ type: 'Ready', status: 'True', reason: 'Scheduled', lastTransitionTime: now }],
    };

    // A spec change sent to /status is ignored there.
    const afterStatus = (await objects.replaceNamespacedCustomObjectStatus({
      ...ref,
      name: 'status',
      body: { ...created, spec: { ...created.spec, schedule: '0 0 * * *' }, status },
    })) as JobSchedule;
    expect(afterStatus.status).toEqual(status);
    expect(afterStatus.spec.schedule).toBe(validSpec.schedule);
    expect(afterStatus.metadata?.generation).toBe(1);

    // A status change sent to the main resource is ignored there; the spec change bumps generation.
    const afterSpec = (await objects.replaceNamespacedCustomObject({
      ...ref,
      name: 'status',
      body: { ...afterStatus, spec: { ...afterStatus.spec, schedule: '0 0 * * *' }, status: { observedGeneration: 99 } },
    })) as JobSchedule;
    expect(afterSpec.metadata?.generation).toBe(2);
    expect(afterSpec.spec.schedule).toBe('0 0 * * *');
    expect(afterSpec.status).toEqual(status);

    // The status schema is enforced too.
    const bad = await rejection(
      objects.replaceNamespacedCustomObjectStatus({
        ...ref,
        name: 'status',
        body: { ...afterSpec, status: { conditions: [{ type: 'Ready', status: 'Maybe', lastTransitionTime: now }] } },
      }),
    );
    expect(bad.code).toBe(422);
    expect(bad.text).toMatch(/status\.conditions\[0\]\.status: Unsupported value: "Maybe"/);
  });

  it('keeps data, address and credentials across an apiserver restart, so a resumed watch sees new objects', async () => {
    await create(schedule('before-restart', validSpec));
    const informer = makeInformer<JobSchedule>(
      kc,
      `/apis/${ref.group}/${ref.version}/namespaces/${ref.namespace}/${ref.plural}`,
      () => objects.listNamespacedCustomObject(ref) as Promise<KubernetesListObject<JobSchedule>>,
    );
    const added: string[] = [];
    let errors = 0;
    informer.on('add', (obj) => added.push(obj.metadata!.name!));
    // client-node stops an informer on a watch error; resuming it is the caller's job.
    informer.on('error', () => {
      errors += 1;
      setTimeout(() => void informer.start().catch(() => undefined), 500);
    });
    await informer.start();
    try {
      expect(added).toContain('before-restart');

      await apiserver.restart();
      expect(kc.getCurrentCluster()?.server).toBe(apiserver.server);
      expect((await read('before-restart')).spec.jobType).toBe(validSpec.jobType);

      await create(schedule('after-restart', validSpec));
      await waitFor('the informer to see an object created after the restart', async () =>
        added.includes('after-restart') ? true : undefined,
      );
      expect(errors).toBeGreaterThan(0);
    } finally {
      await informer.stop();
    }
  }, 120_000);
});

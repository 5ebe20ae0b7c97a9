import { PatchStrategy, setHeaderOptions, type CoreV1Api, type CustomObjectsApi, type KubernetesObject } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pool } from '@conveyor/platform';
import { BUILD_TIMEOUT_MS, type ApiServer } from '../../../test/apiserver/harness.js';
import { startService, type RunningService } from '../../../test/support/service-process.js';
import { startKubernetesFixture, type KubernetesFixture } from './kubernetes-fixture.js';
import { waitFor } from '../../../test/support/wait.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Condition {
  type: string;
  status: string;
  reason?: string;
  observedGeneration?: number;
}
interface JobSchedule extends KubernetesObject {
  spec: Record<string, unknown>;
  status?: { lastScheduleTime?: string; nextScheduleTime?: string; lastJobId?: string; observedGeneration?: number; conditions?: Condition[] };
}

describe('JobSchedules from a real kube-apiserver with two scheduler processes', () => {
  let fixture: KubernetesFixture;
  let pool: Pool;
  let api: ApiServer;
  let objects: CustomObjectsApi;
  let core: CoreV1Api;
  let namespace: string;
  const services: RunningService[] = [];
  const ref = () => ({ group: 'conveyor.dev', version: 'v1alpha1', namespace, plural: 'jobschedules' });

  beforeAll(async () => {
    fixture = await startKubernetesFixture('js');
    ({ pool, api, objects, core, namespace } = fixture);
    const env = { ...fixture.env, RECONCILE_INTERVAL_MS: '60000' };
    services.push(
      ...(await Promise.all([startService('scheduler', { ...env, HOSTNAME: 'scheduler-a' }), startService('scheduler', { ...env, HOSTNAME: 'scheduler-b' })])),
    );
  }, BUILD_TIMEOUT_MS + 120_000);

  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop('SIGKILL')));
    await fixture?.stop();
  }, 60_000);

  const create = (name: string, spec: Record<string, unknown>, labels?: Record<string, string>) =>
    objects.createNamespacedCustomObject({
      ...ref(),
      body: { apiVersion: 'conveyor.dev/v1alpha1', kind: 'JobSchedule', metadata: { name, labels }, spec },
    }) as Promise<JobSchedule>;
  const read = (name: string) => objects.getNamespacedCustomObject({ ...ref(), name }) as Promise<JobSchedule>;
  const patchSpec = (name: string, spec: Record<string, unknown>) =>
    objects.patchNamespacedCustomObject({ ...ref(), name, body: { spec } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)) as Promise<JobSchedule>;
  const jobsOf = async (uid: string) =>
    (
      await pool.query<{ id: string; key: string; tenant: string; owner: string; copies: number; created: number }>(
        `SELECT min(j.id::text) AS id, j.idempotency_key AS key, min(j.tenant) AS tenant, min(j.owner) AS owner, count(*)::int AS copies,
                (SELECT count(*)::int FROM job_events e JOIN jobs k ON k.id = e.job_id WHERE k.idempotency_key = j.idempotency_key AND e.type = 'created') AS created
           FROM jobs j WHERE j.idempotency_key LIKE $1 GROUP BY j.idempotency_key ORDER BY j.idempotency_key`,
        [`schedule:${uid}:%`],
      )
    ).rows;
  const eventsOf = async (name: string) =>
    (await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` })).items;
  const fireTimes = (uid: string, keys: { key: string }[]) => keys.map((j) => Date.parse(j.key.slice(`schedule:${uid}:`.length)));
  /** Waits for the schedule's job count to stop growing (a fire may be in flight when it stops). */
  const settledCount = async (uid: string) => {
    let before = (await jobsOf(uid)).length;
    for (;;) {
      await sleep(1_500);
      const after = (await jobsOf(uid)).length;
      if (after === before) return after;
      before = after;
    }
  };

  it('fires each second exactly once across both replicas, writes status and events, and follows update and delete', async () => {
    const created = await create('tick', { schedule: '* * * * * *', jobType: 'noop', payload: {} }, { 'conveyor.dev/tenant': 'acme' });
    const uid = created.metadata!.uid!;

    const ticks = await waitFor('three fires', async () => {
      const rows = await jobsOf(uid);
      return rows.length >= 3 ? rows : undefined;
    });
    for (const job of ticks) expect(job).toMatchObject({ tenant: 'acme', owner: `schedule:${namespace}/tick`, copies: 1, created: 1 });
    const times = fireTimes(uid, ticks);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBe(1000);
    // Only the leader fires: each fire time is one job, created by one of them.
    const fired = await Promise.all(
      services.map(async (s) => Number(/conveyor_scheduler_schedule_fires_total\{[^}]*outcome="fired"[^}]*\} (\d+)/.exec(await (await fetch(`${s.url}/metrics`)).text())?.[1] ?? 0)),
    );
    expect(fired[0]! + fired[1]!).toBeLessThanOrEqual((await jobsOf(uid)).length);

    // Status through the status subresource, describing a job that exists.
    const withStatus = await waitFor('a status naming a fired job', async () => {
      const obj = await read('tick');
      return obj.status?.lastJobId ? obj : undefined;
    });
    const status = withStatus.status!;
    expect(status.observedGeneration).toBe(1);
    expect(Date.parse(status.nextScheduleTime!)).toBeGreaterThan(Date.parse(status.lastScheduleTime!));
    expect(status.conditions).toContainEqual(expect.objectContaining({ type: 'Ready', status: 'True', observedGeneration: 1 }));
    const { rows: job } = await pool.query('SELECT idempotency_key FROM jobs WHERE id = $1', [status.lastJobId]);
    expect(job[0]?.idempotency_key).toBe(`schedule:${uid}:${status.lastScheduleTime}`);
    const statusManagers = (withStatus.metadata?.managedFields ?? []).filter((f) => f.subresource === 'status');
    expect(statusManagers.length).toBeGreaterThan(0);
    expect((withStatus.metadata?.managedFields ?? []).filter((f) => f.subresource !== 'status' && JSON.stringify(f.fieldsV1 ?? {}).includes('f:status'))).toEqual([]);

    const events = await eventsOf('tick');
    expect(events.filter((e) => e.reason === 'Fired').length).toBeGreaterThan(0);
    expect(events[0]).toMatchObject({ involvedObject: { kind: 'JobSchedule', uid }, source: { component: 'conveyor-scheduler' } });
    expect(new Set(events.map((e) => e.reportingInstance))).toSatisfy((hosts: Set<string>) => [...hosts].every((h) => h === 'scheduler-a' || h === 'scheduler-b'));

    // Suspending stops the fires; the status says why and follows the new generation.
    await patchSpec('tick', { suspend: true });
    await waitFor('the suspended status', async () => {
      const s = (await read('tick')).status;
      return s?.observedGeneration === 2 && s.conditions?.some((c) => c.type === 'Ready' && c.reason === 'Suspended') ? s : undefined;
    });
    const suspendedAt = await settledCount(uid);
    await sleep(2_000);
    expect((await jobsOf(uid)).length).toBe(suspendedAt);

    // Resuming fires again; deleting stops it for good.
    await patchSpec('tick', { suspend: false });
    await waitFor('fires after resuming', async () => ((await jobsOf(uid)).length >= suspendedAt + 2 ? true : undefined));
    await objects.deleteNamespacedCustomObject({ ...ref(), name: 'tick' });
    const deletedAt = await settledCount(uid);
    await sleep(2_000);
    expect((await jobsOf(uid)).length).toBe(deletedAt);
    const all = await jobsOf(uid);
    expect(all.every((j) => j.copies === 1 && j.created === 1)).toBe(true);

    for (const s of services) expect(s.process.exitCode).toBeNull();
  }, 60_000);

  it('reports a spec the CRD accepts but the scheduler cannot run as InvalidSpec, without crashing', async () => {
    const bad = await create('unknown-type', { schedule: '* * * * * *', jobType: 'no.such.type', payload: {} });
    const status = await waitFor('the InvalidSpec condition', async () => {
      const s = (await read('unknown-type')).status;
      return s?.conditions?.some((c) => c.type === 'InvalidSpec') ? s : undefined;
    });
    expect(status.conditions).toContainEqual(expect.objectContaining({ type: 'InvalidSpec', status: 'True', observedGeneration: 1 }));
    expect(status.conditions).toContainEqual(expect.objectContaining({ type: 'Ready', status: 'False', reason: 'InvalidSpec' }));
    expect(status.lastJobId).toBeUndefined();
    const warnings = await waitFor('an InvalidSpec event', async () => {
      const items = (await eventsOf('unknown-type')).filter((e) => e.reason === 'InvalidSpec');
      return items.length > 0 ? items : undefined;
    });
    expect(warnings[0]).toMatchObject({ type: 'Warning', involvedObject: { uid: bad.metadata!.uid } });
    expect(warnings[0]!.message).toMatch(/no\.such\.type/);
    await sleep(1_500);
    expect(await jobsOf(bad.metadata!.uid!)).toEqual([]);
    for (const s of services) expect(s.process.exitCode).toBeNull();
  }, 30_000);

  it('resumes watching after the API server restarts', async () => {
    await api.restart();
    const created = await waitFor('creating after the restart', () => create('after-restart', { schedule: '* * * * * *', jobType: 'noop', payload: {} }));
    const uid = created.metadata!.uid!;
    const rows = await waitFor('fires after the restart', async () => {
      const r = await jobsOf(uid);
      return r.length >= 2 ? r : undefined;
    }, 40_000);
    expect(rows.every((j) => j.copies === 1 && j.created === 1)).toBe(true);
    for (const s of services) expect(s.process.exitCode).toBeNull();
    // Only the leader watches; leadership may have moved while the API server was away.
    expect(services.some((s) => /JobSchedule list\/watch failed; restarting/.test(s.output()))).toBe(true);
    for (const s of services) await s.stopCleanly();
  }, 60_000);
});

import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bridgeIp, databaseUrl, del, deploymentReplicas, eventually, get, kubectl, kubectlJson, login, namespace, pooled, post, sampler } from './cluster.js';

// KEDA scaling on time to drain (the chart's `drain` metrics-api trigger on the api's
// GET /scaling/pools/{name}, next to the queue-depth triggers; charts/conveyor/templates/keda.yaml),
// with the settings of charts/conveyor/ci/cluster-values.yaml: the default pool has 4 handlers a
// worker, a 10 s target and at most 4 workers; depth alone asks for one worker per 5 messages.
const DEFAULT_POOL = 'conveyor-worker-default';
const REPORTS_POOL = 'conveyor-worker-reports';
const JOBS = 10;
const SLOW_MS = 20_000;
const MAX_REPLICAS = 4;
const testNamespace = `conveyor-drain-${randomUUID().slice(0, 8)}`;

interface ScaledObject {
  metadata: { name: string; namespace: string };
  spec: { scaleTargetRef: { name: string }; minReplicaCount: number; cooldownPeriod?: number; fallback?: unknown; triggers: Array<{ type: string; name: string; metadata: Record<string, string> }> };
  status?: { conditions?: Array<{ type: string; status: string; reason?: string }>; health?: Record<string, { status: string; numberOfFailures?: number }> };
}

describe('KEDA on time to drain', () => {
  let token: string;
  let db: pg.Client;

  beforeAll(async () => {
    token = await login();
    db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    await kubectl('delete', 'namespace', testNamespace, '--ignore-not-found', '--wait=false');
  });

  /** Submits `JOBS` jobs of a type through the entry; returns their ids. */
  const submit = (type: string, payload: unknown) =>
    pooled(JOBS, JOBS, async () => {
      const reply = await post(token, '/jobs', { type, payload });
      if (reply.status !== 202) throw new Error(`submitting ${type} answered ${reply.status}: ${JSON.stringify(reply.body)}`);
      return String(reply.body.jobId);
    });

  /** Replicas of the pool from the moment `ids` are submitted until they all succeed (1 s apart). */
  async function replicasWhileRunning(type: string, payload: unknown, timeoutMs: number) {
    await eventually(() => deploymentReplicas(DEFAULT_POOL), (n) => n === 0, 240_000, `${DEFAULT_POOL} idle at 0 replicas`, 2000);
    const replicas = sampler(() => deploymentReplicas(DEFAULT_POOL));
    const ids = await submit(type, payload);
    await eventually(
      () => Promise.all(ids.map(async (id) => (await get(token, `/jobs/${id}`)).body.status)),
      (all) => all.every((s) => s === 'success'),
      timeoutMs,
      `${JOBS} ${type} jobs to succeed`,
      2000,
    );
    return (await replicas.stop()).map((s) => s.value);
  }

  it(`gives the pool more workers for ${JOBS} slow jobs than for ${JOBS} fast ones at the same depth`, async () => {
    // The pool's recent history, as the worker leaves it (finished rows with their run times): the
    // api weighs waiting jobs by it. Written here so other test files' sleep jobs (1 s, 4 s) that
    // finished in the last 15 minutes do not decide the mean; newer than theirs, so it is what counts.
    await db.query(
      `INSERT INTO jobs (id, tenant, owner, type, payload, status, created_at, started_at, finished_at)
       SELECT gen_random_uuid(), 'drain-history', 'cluster-test', t.type, '{}', 'success', now(), now() - make_interval(secs => t.seconds), now()
         FROM (VALUES ('sleep', $1::float8), ('noop', 0.01::float8)) AS t(type, seconds), generate_series(1, 200)`,
      [SLOW_MS / 1000],
    );
    // Depth alone: ceil(10 / 5) = 2 workers for either. Time to drain: 10 noop jobs of 10 ms are
    // 0.1 s of work, one worker; 10 sleep jobs of 20 s are 200 s over a 10 s target, 20 slots, 5
    // workers, held at the pool's 4. Running jobs alone (10 at most, 4 a worker) would ask for 3.
    const fast = await replicasWhileRunning('noop', {}, 120_000);
    const slow = await replicasWhileRunning('sleep', { ms: SLOW_MS }, 180_000);
    console.log(`${DEFAULT_POOL} replicas (1 s apart) for ${JOBS} noop jobs: ${fast.join(' ')}\nfor ${JOBS} sleep jobs of ${SLOW_MS} ms: ${slow.join(' ')}`);
    expect(Math.max(...fast)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...fast)).toBeLessThanOrEqual(2);
    expect(Math.max(...slow)).toBe(MAX_REPLICAS);
  }, 600_000);

  it('scales a pool at zero up before a cron fire due within its lead time, with nothing queued yet', async () => {
    await eventually(() => deploymentReplicas(REPORTS_POOL), (n) => n === 0, 240_000, `${REPORTS_POOL} idle at 0 replicas`, 2000);
    // A fire 70 s ahead (6-field cron: seconds first, UTC); the reports pool's lead is 60 s.
    const fireAt = new Date(Math.ceil((Date.now() + 70_000) / 1000) * 1000);
    const name = `prescale-${randomUUID().slice(0, 8)}`;
    const replicas = sampler(() => deploymentReplicas(REPORTS_POOL));
    const created = await post(token, '/schedules', {
      name,
      schedule: `${fireAt.getUTCSeconds()} ${fireAt.getUTCMinutes()} ${fireAt.getUTCHours()} * * *`,
      jobType: 'report.generate',
      payload: { format: 'json' },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    try {
      const run = await eventually(
        async () => ((await get(token, `/schedules/${name}`)).body.lastRuns as Array<{ jobId: string; status: string; fireTime: string | null }> | undefined) ?? [],
        (runs) => runs.some((r) => r.status === 'success'),
        fireAt.getTime() - Date.now() + 120_000,
        `the fire at ${fireAt.toISOString()} to run`,
        2000,
      );
      const seen = await replicas.stop();
      const before = seen.filter((s) => s.at < fireAt.getTime());
      console.log(`${REPORTS_POOL} replicas (1 s apart) up to the fire at ${fireAt.toISOString()}: ${before.map((s) => s.value).join(' ')}; after: ${seen.filter((s) => s.at >= fireAt.getTime()).map((s) => s.value).join(' ')}`);
      expect(before[0]?.value).toBe(0);
      const up = before.find((s) => s.value >= 1);
      expect(up, 'a replica asked for before the fire').toBeDefined();
      console.log(`scaled up ${((fireAt.getTime() - up!.at) / 1000).toFixed(0)} s before the fire`);
      expect(Date.parse(run.find((r) => r.status === 'success')!.fireTime ?? '')).toBe(fireAt.getTime());
    } finally {
      await replicas.stop();
      await del(token, `/schedules/${name}`);
    }
  }, 600_000);

  it("falls back to depth when the api cannot be read, instead of holding the pool where it is", async () => {
    // The reports pool's own ScaledObject as the chart renders it, twice, in a scratch namespace, on
    // idle copies of its Deployment at 2 replicas, the drain trigger pointed at a closed port: one
    // with the chart's fallback, one without it (what KEDA does with a failing metric by default).
    const chartSo = await kubectlJson<ScaledObject>('-n', namespace, 'get', 'scaledobject', REPORTS_POOL);
    const deployment = await kubectlJson<{ spec: { template: { spec: { containers: Array<{ image: string }> } } } }>('-n', namespace, 'get', 'deployment', REPORTS_POOL);
    const secret = await kubectlJson<{ data: Record<string, string> }>('-n', namespace, 'get', 'secret', 'conveyor-env');
    const auth = await kubectlJson<{ spec: unknown }>('-n', namespace, 'get', 'triggerauthentication', 'conveyor-aws');
    const idle = (name: string) => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: testNamespace },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: { containers: [{ name: 'idle', image: deployment.spec.template.spec.containers[0]!.image, imagePullPolicy: 'Never', command: ['sleep', 'infinity'] }] },
        },
      },
    });
    const copy = (name: string, withFallback: boolean) => {
      const { fallback, ...spec } = chartSo.spec;
      expect(fallback, "the chart's ScaledObject has a fallback").toBeDefined();
      return {
        apiVersion: 'keda.sh/v1alpha1',
        kind: 'ScaledObject',
        metadata: { name, namespace: testNamespace },
        spec: {
          ...spec,
          ...(withFallback ? { fallback } : {}),
          scaleTargetRef: { name },
          cooldownPeriod: 5,
          triggers: spec.triggers.map((t) => (t.name === 'drain' ? { ...t, metadata: { ...t.metadata, url: `http://${bridgeIp}:1/scaling/pools/reports?concurrency=1` } } : t)),
        },
      };
    };
    await kubectl('create', 'namespace', testNamespace);
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'cluster-drain-')), 'objects.json');
    writeFileSync(
      file,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'conveyor-env', namespace: testNamespace }, data: secret.data },
          { apiVersion: 'keda.sh/v1alpha1', kind: 'TriggerAuthentication', metadata: { name: 'conveyor-aws', namespace: testNamespace }, spec: auth.spec },
          idle('with-fallback'),
          idle('without-fallback'),
          copy('with-fallback', true),
          copy('without-fallback', false),
        ],
      }),
    );
    await kubectl('apply', '-f', file);
    const held = sampler(() => deploymentReplicas('without-fallback', testNamespace));
    const fellBack = await eventually(
      async () => ({
        replicas: await deploymentReplicas('with-fallback', testNamespace),
        so: await kubectlJson<ScaledObject>('-n', testNamespace, 'get', 'scaledobject', 'with-fallback'),
      }),
      (s) => s.replicas === 0,
      180_000,
      'the pool whose api cannot be read to scale in to 0 on its empty queues',
      2000,
    );
    // Past the fallback's threshold and cooldown, and as long again: the other pool stays held.
    await new Promise((r) => setTimeout(r, 20_000));
    const seen = (await held.stop()).map((s) => s.value);
    const health = Object.values(fellBack.so.status?.health ?? {});
    console.log(`with fallback: conditions ${JSON.stringify(fellBack.so.status?.conditions)}, health ${JSON.stringify(fellBack.so.status?.health)}\nwithout fallback, replicas over the same time: ${seen.join(' ')}`);
    expect(health.some((h) => h.status === 'Failing' && (h.numberOfFailures ?? 0) > 3), 'KEDA records the failing drain trigger').toBe(true);
    expect(fellBack.so.status?.conditions).toContainEqual(expect.objectContaining({ type: 'Fallback', status: 'True' }));
    // Without the fallback KEDA keeps the failing pool where it was for the whole time.
    expect(seen.length).toBeGreaterThan(10);
    expect(seen.every((n) => n === 2), `replicas without fallback: ${seen.join(' ')}`).toBe(true);
  }, 600_000);
});

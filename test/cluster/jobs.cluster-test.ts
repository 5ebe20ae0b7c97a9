import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ancestors, formatTree, startOtlpReceiver } from '../observability/otlp-receiver.js';
import {
  bridgeIp,
  deploymentReplicas,
  eventually,
  get,
  isRunningAndReady,
  login,
  otlpPort,
  pods,
  pooled,
  post,
  promQuery,
  sampler,
} from './cluster.js';

// Conveyor on the local cluster, used as a user uses it: through the public entry (the NodePort on
// the bridge address), with the worker pool scaled by KEDA on the real depth of its SQS queue.
const PER_TYPE = 500;
const DEFAULT_POOL = 'conveyor-worker-default';
const SERVER = 2;
const CONSUMER = 5;

/** Every job id the token's tenant sees with this type and status (GET /jobs, all pages). */
async function listedIds(token: string, type: string, status: string): Promise<Set<string>> {
  const ids = new Set<string>();
  let cursor: string | undefined;
  do {
    const { status: code, body } = await get(token, `/jobs?type=${encodeURIComponent(type)}&status=${status}&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    if (code !== 200) throw new Error(`GET /jobs answered ${code}: ${JSON.stringify(body)}`);
    for (const job of body.items as Array<{ jobId: string }>) ids.add(job.jobId);
    cursor = (body.nextCursor as string | null) ?? undefined;
  } while (cursor);
  return ids;
}

describe('Conveyor on the local cluster', () => {
  let token: string;
  let grantor: string;
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;

  beforeAll(async () => {
    token = await login();
    // Reserving points takes the points:grant scope, which only the dev admin has.
    grantor = await login('admin@example.com', 'admin-password');
    receiver = await startOtlpReceiver({ host: bridgeIp, port: otlpPort });
  });
  afterAll(() => receiver?.close());

  it(`runs ${PER_TYPE} jobs of every built-in type through the entry, and KEDA scales the pool 0 -> >=2 -> 0 on queue depth`, async () => {
    await eventually(() => deploymentReplicas(DEFAULT_POOL), (n) => n === 0, 180_000, `${DEFAULT_POOL} idle at 0 replicas before the load`);
    const replicas = sampler(() => deploymentReplicas(DEFAULT_POOL));
    // While the pool works through the backlog: does Prometheus scrape every running pod of the
    // release, workers included (their targets come and go with KEDA)? Sampled every 2 s.
    const scrapes = sampler(async () => {
      const running = (await pods('app.kubernetes.io/instance=conveyor')).filter(isRunningAndReady).map((p) => p.metadata.name);
      const up = new Set((await promQuery('up{job="conveyor-pods"} == 1')).map((r) => r.metric.pod));
      return { workers: running.filter((n) => n.startsWith(DEFAULT_POOL)).length, running: running.length, unscraped: running.filter((n) => !up.has(n)) };
    }, 2000);
    const userId = `cluster-${randomUUID()}`;
    const now = new Date().toISOString();
    const kinds: Array<{ type: string; owner: string; submit: () => Promise<{ status: number; body: Record<string, unknown> }> }> = [
      { type: 'noop', owner: token, submit: () => post(token, '/jobs', { type: 'noop', payload: {} }) },
      { type: 'sleep', owner: token, submit: () => post(token, '/jobs', { type: 'sleep', payload: { ms: 1000 } }) },
      { type: 'report.generate', owner: token, submit: () => post(token, '/generate-report', { format: 'json' }) },
      { type: 'points.grant', owner: grantor, submit: () => post(grantor, '/points/reservations', { userId, amount: 3, executeAt: now }) },
    ];
    const accepted = await pooled(kinds.length * PER_TYPE, 16, async (i) => {
      const kind = kinds[i % kinds.length]!;
      const reply = await kind.submit();
      if (reply.status !== 202) throw new Error(`submitting ${kind.type} answered ${reply.status}: ${JSON.stringify(reply.body)}`);
      return { type: kind.type, jobId: String(reply.body.jobId) };
    });

    // Every accepted job succeeds: read back through the entry, page by page.
    for (const kind of kinds) {
      let missing = accepted.filter((a) => a.type === kind.type).map((a) => a.jobId);
      expect(missing).toHaveLength(PER_TYPE);
      try {
        await eventually(
          async () => {
            const succeeded = await listedIds(kind.owner, kind.type, 'success');
            missing = missing.filter((id) => !succeeded.has(id));
            return missing.length;
          },
          (left) => left === 0,
          600_000,
          `${PER_TYPE} ${kind.type} jobs to succeed`,
          3000,
        );
      } catch (error) {
        const failed = await listedIds(kind.owner, kind.type, 'failed');
        throw new Error(`${(error as Error).message}; of the ${missing.length} missing, ${missing.filter((id) => failed.has(id)).length} failed`, { cause: error });
      }
    }
    const balance = await get(grantor, `/points/${userId}`);
    expect(balance.body).toMatchObject({ userId, balance: PER_TYPE * 3 });

    await eventually(() => deploymentReplicas(DEFAULT_POOL), (n) => n === 0, 240_000, `${DEFAULT_POOL} back at 0 replicas once its queue is empty`, 2000);
    const scraped = (await scrapes.stop()).map((s) => s.value);
    const complete = scraped.filter((s) => s.workers >= 2 && s.unscraped.length === 0);
    expect(complete.length, `a moment with >= 2 workers and every running pod scraped; samples: ${JSON.stringify(scraped.slice(-5))}`).toBeGreaterThan(0);
    console.log(`Prometheus scraped all ${complete[0]!.running} running pods (${complete[0]!.workers} workers) in ${complete.length} of ${scraped.length} samples`);
    const seen = (await replicas.stop()).map((s) => s.value);
    console.log(`${DEFAULT_POOL} replicas over time (1 s apart): ${seen.join(' ')}`);
    expect(seen[0]).toBe(0);
    expect(Math.max(...seen)).toBeGreaterThanOrEqual(2);
    expect(seen.at(-1)).toBe(0);
  }, 1_200_000);

  it('follows one job through every hop in one trace: gateway -> api -> Kafka -> bridge -> SNS -> SQS -> worker -> Postgres', async () => {
    const reply = await post(token, '/jobs', { type: 'noop', payload: {} });
    expect(reply.status).toBe(202);
    const jobId = String(reply.body.jobId);
    const finished = await eventually(() => get(token, `/jobs/${jobId}`), (r) => r.status === 200, 120_000, `job ${jobId} to finish`);
    expect(finished.body).toMatchObject({ status: 'success' });
    const traceId = String(finished.body.traceId);
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    // Pods export in batches on their own schedule: wait until the worker's span links up to the gateway.
    const trace = await eventually(
      async () => {
        const spans = receiver.spans.filter((s) => s.traceId === traceId);
        const worker = spans.find((s) => s.service === 'worker' && s.kind === CONSUMER && s.attributes['conveyor.job.id'] === jobId);
        return { spans, worker, chain: worker ? ancestors(spans, worker) : [] };
      },
      ({ worker, chain, spans }) =>
        Boolean(worker) &&
        chain.some((s) => s.service === 'gateway' && s.kind === SERVER) &&
        spans.some((s) => (s.attributes['db.system'] ?? s.attributes['db.system.name']) === 'postgresql' && ancestors(spans, s).includes(worker!)),
      60_000,
      `the spans of trace ${traceId} from every pod`,
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n${formatTree(receiver.spans.filter((s) => s.traceId === traceId))}`);
    });
    console.log(`trace ${traceId} of job ${jobId}:\n${formatTree(trace.spans)}`);
    const hops = trace.chain.map((s) => s.service);
    for (const service of ['bridge', 'api', 'gateway']) expect(hops, `the worker's span descends from ${service}`).toContain(service);
    expect(hops.indexOf('bridge')).toBeLessThan(hops.indexOf('api'));
    expect(hops.indexOf('api')).toBeLessThan(hops.indexOf('gateway'));
  });
});

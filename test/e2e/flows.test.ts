import { createServer } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { defineJobType, PermanentJobError, runWorker, type RunningWorker } from '@conveyor/worker-sdk';
import { startPlatform, type Platform } from '../support/platform.js';
import { readUntil } from '../support/wait.js';
import type { ConveyorClient } from './client.js';
import { connectTo } from './connect.js';

interface StepView {
  name: string;
  status: string;
  jobId: string | null;
  phase: string | null;
  attempts: number;
  startedAt: string | null;
  finishedAt: string | null;
  error: string | null;
  waitingReason?: string;
  waitingFor?: string[];
  compensation: { type: string; status: string | null; jobId: string | null } | null;
}
interface FlowView {
  flowId: string;
  status: string;
  error: string | null;
  steps: StepView[];
}

/** A port nobody listens on, for the in-process worker's ops server. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Flows (issue 24) through the real gateway, api, bridge and scheduler on real Postgres, Kafka and
 * the SQS emulator. The default pool is drained by a worker of this process (the worker SDK's
 * runWorker, as a team's worker runs), whose two job types record what ran and when, so the
 * order of steps and compensations is read from the handlers themselves.
 */
describe('flows through the gateway', () => {
  let platform: Platform;
  let demo: ConveyorClient;
  let admin: ConveyorClient;
  let db: pg.Pool;
  let worker: RunningWorker;
  /** Every run of a step or compensation, in the order the handlers started, with what they saw. */
  const runs: Array<{ kind: 'step' | 'undo'; name: string; dependencies: Record<string, unknown> }> = [];

  const step = defineJobType<{ name: string; ms?: number; fail?: boolean }>({
    name: 'flowtest.step',
    version: 1,
    handler: async ({ name, ms, fail }, ctx) => {
      const dependencies = await ctx.dependencies();
      runs.push({ kind: 'step', name, dependencies });
      if (ms) await delay(ms, undefined, { signal: ctx.signal });
      if (fail) throw new PermanentJobError(`step ${name} refuses`);
      return { json: { name, saw: dependencies } };
    },
  });
  const undo = defineJobType<{ name: string; fail?: boolean }>({
    name: 'flowtest.undo',
    version: 1,
    handler: async ({ name, fail }, ctx) => {
      runs.push({ kind: 'undo', name, dependencies: await ctx.dependencies() });
      if (fail) throw new PermanentJobError(`cannot undo ${name}`);
      return { json: { undone: name } };
    },
  });

  const submitFlow = async (body: unknown) => {
    const res = await demo.request('/flows', { method: 'POST', body: JSON.stringify(body) });
    return { status: res.status, location: res.headers.get('location'), body: (await res.json()) as Record<string, unknown> };
  };
  const flow = async (flowId: string) => {
    const res = await demo.request(`/flows/${flowId}`);
    expect(res.status).toBe(200);
    return (await res.json()) as FlowView;
  };
  const untilFlow = (flowId: string, done: (f: FlowView) => boolean) => readUntil(`flow ${flowId}`, () => flow(flowId), done, 60_000);
  const stepOf = (f: FlowView, name: string) => f.steps.find((s) => s.name === name)!;
  const rowCounts = async () =>
    (
      await db.query<{ flows: number; steps: number; jobs: number }>(
        'SELECT (SELECT count(*) FROM flows)::int AS flows, (SELECT count(*) FROM flow_steps)::int AS steps, (SELECT count(*) FROM jobs)::int AS jobs',
      )
    ).rows[0]!;
  const s = (name: string, dependsOn: string[] = [], payload: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({
    name,
    type: 'flowtest.step',
    payload: { name, ...payload },
    dependsOn,
    ...extra,
  });

  beforeAll(async () => {
    // No built-in worker for the default pool: this file's worker drains it.
    platform = await startPlatform({ pools: ['reports'] });
    ({ demo, admin, db } = await connectTo(platform));
    for (const name of ['flowtest.step', 'flowtest.undo']) {
      const res = await admin.request(`/job-types/${name}`, {
        method: 'PUT',
        body: JSON.stringify({ pool: 'default', maxAttempts: 3, timeoutSeconds: 60, schema: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } } }),
      });
      expect(res.status, await res.clone().text()).toBe(201);
    }
    worker = await runWorker({
      pool: 'default',
      jobTypes: [step, undo],
      name: 'flows-test-worker',
      env: { ...platform.env, OPS_PORT: String(await freePort()), LOG_LEVEL: 'warn', HEARTBEAT_INTERVAL_MS: '500' },
    });
  }, 240_000);
  afterAll(async () => {
    await worker?.stop();
    await db?.end();
    await platform?.stop();
  }, 60_000);

  it('runs a diamond in dependency order; the last step reads both of its dependencies\' results', async () => {
    const { status, body, location } = await submitFlow({
      name: 'diamond',
      steps: [s('d', ['b', 'c']), s('b', ['a']), s('c', ['a']), s('a', [], { ms: 1500 })],
    });
    expect(status, JSON.stringify(body)).toBe(202);
    expect(body.enqueued).toBe(1);
    const flowId = body.flowId as string;
    expect(location).toBe(`/flows/${flowId}`);

    // While a runs, the others wait in Postgres for their dependencies: no job exists for them yet.
    const early = await flow(flowId);
    expect(early.status).toBe('running');
    expect(stepOf(early, 'a')).toMatchObject({ status: 'running', jobId: expect.any(String) });
    expect(stepOf(early, 'd')).toMatchObject({ status: 'waiting', jobId: null, waitingReason: 'waiting_for_dependencies', waitingFor: ['b', 'c'] });
    expect(stepOf(early, 'b')).toMatchObject({ status: 'waiting', waitingFor: ['a'] });

    const done = await untilFlow(flowId, (f) => f.status !== 'running');
    expect(done.status).toBe('success');
    expect(done.steps.map((x) => [x.name, x.status, x.attempts])).toEqual([
      ['d', 'success', 1],
      ['b', 'success', 1],
      ['c', 'success', 1],
      ['a', 'success', 1],
    ]);
    const at = (name: string, field: 'startedAt' | 'finishedAt') => Date.parse(stepOf(done, name)[field]!);
    for (const middle of ['b', 'c']) expect(at(middle, 'startedAt')).toBeGreaterThanOrEqual(at('a', 'finishedAt'));
    expect(at('d', 'startedAt')).toBeGreaterThanOrEqual(Math.max(at('b', 'finishedAt'), at('c', 'finishedAt')));
    const order = runs.filter((r) => r.kind === 'step' && ['a', 'b', 'c', 'd'].includes(r.name)).map((r) => r.name);
    expect(order[0]).toBe('a');
    expect(order[3]).toBe('d');

    // d's handler saw b's and c's results (each of which saw a's), and its own result says so.
    const result = await demo.request(`/jobs/${stepOf(done, 'd').jobId}/result`);
    expect(result.status).toBe(200);
    const fromA = { json: { name: 'a', saw: {} } };
    expect(await result.json()).toEqual({
      name: 'd',
      saw: { b: { json: { name: 'b', saw: { a: fromA } } }, c: { json: { name: 'c', saw: { a: fromA } } } },
    });
    // Every step is an ordinary job of the tenant, traced with the flow's request.
    const job = await demo.job(stepOf(done, 'b').jobId!);
    expect(job.body).toMatchObject({ status: 'success', type: 'flowtest.step' });
    const traces = await db.query<{ n: number }>('SELECT count(DISTINCT trace_id)::int AS n FROM jobs WHERE flow_id = $1', [flowId]);
    expect(traces.rows[0]!.n).toBe(1);
  });

  it('refuses a cycle, a dangling dependency, an unknown type and the other bad flows with 422 and their paths, storing nothing', async () => {
    const before = await rowCounts();
    const refused = async (body: unknown) => {
      const { status, body: reply } = await submitFlow(body);
      expect(status, JSON.stringify(reply)).toBe(422);
      return reply as { error: string; details: Array<{ path: unknown[]; message: string }> };
    };

    const cycle = await refused({ steps: [s('start'), s('a', ['start', 'c']), s('b', ['a']), s('c', ['b'])] });
    expect(cycle.error).toMatch(/dependency cycle: a -> c -> b -> a/);
    expect(cycle.details).toEqual([{ path: ['steps', 1, 'dependsOn'], message: 'dependency cycle: a -> c -> b -> a' }]);

    const dangling = await refused({ steps: [s('a'), s('b', ['a', 'ghost'])] });
    expect(dangling.details).toEqual([{ path: ['steps', 1, 'dependsOn', 1], message: 'no step is named ghost' }]);

    const unknown = await refused({ steps: [s('a'), { name: 'b', type: 'nope.missing', payload: {}, dependsOn: ['a'] }] });
    expect(unknown.details).toEqual([{ path: ['steps', 1, 'type'], message: 'unknown job type "nope.missing"' }]);

    const duplicate = await refused({ steps: [s('a'), s('a')] });
    expect(duplicate.details).toEqual([expect.objectContaining({ path: ['steps', 1, 'name'] })]);

    const badPayload = await refused({ steps: [{ name: 'a', type: 'flowtest.step', payload: { name: 7 } }] });
    expect(badPayload.details[0]!.path).toEqual(['steps', 0, 'payload', 'name']);

    const tooMany = await refused({ steps: Array.from({ length: 101 }, (_, i) => s(`s${i}`)) });
    expect(tooMany.details).toEqual([{ path: ['steps'], message: 'a flow has at most 100 steps; this one has 101' }]);

    const tooBig = await refused({ steps: Array.from({ length: 30 }, (_, i) => s(`s${i}`, [], { pad: 'x'.repeat(10_000) })) });
    expect(tooBig.details).toEqual([{ path: ['steps'], message: expect.stringMatching(/^the payloads of a flow total at most 262144 bytes; these are \d+$/) }]);

    const notSaga = await refused({ steps: [s('a', [], {}, { compensate: { type: 'flowtest.undo', payload: { name: 'a' } } })] });
    expect(notSaga.details).toEqual([{ path: ['steps', 0, 'compensate'], message: 'compensate is taken only in a saga (saga: true)' }]);

    // Several problems at once are all reported.
    const many = await refused({ steps: [s('a', ['a']), { name: 'b', type: 'nope', payload: {} }, s('c', ['zzz'])] });
    expect(many.details.map((d) => d.path)).toEqual([['steps', 1, 'type'], ['steps', 0, 'dependsOn', 0], ['steps', 2, 'dependsOn', 0]]);

    expect(await rowCounts()).toEqual(before);
  });

  it('fails the flow when a step fails for good and skips the steps after it, creating no job for them', async () => {
    const { status, body } = await submitFlow({ steps: [s('a'), s('b', ['a'], { fail: true }), s('c', ['b']), s('d', ['c']), s('side', ['a'])] });
    expect(status).toBe(202);
    const flowId = body.flowId as string;
    const done = await untilFlow(flowId, (f) => f.status !== 'running' && f.steps.every((x) => x.status !== 'running'));
    expect(done.status).toBe('failed');
    expect(done.error).toBe('step b failed: step b refuses');
    expect(done.steps.map((x) => [x.name, x.status])).toEqual([
      ['a', 'success'],
      ['b', 'failed'],
      ['c', 'skipped'],
      ['d', 'skipped'],
      ['side', 'success'],
    ]);
    expect(stepOf(done, 'b')).toMatchObject({ attempts: 1, error: 'step b refuses' });
    expect(stepOf(done, 'c').jobId).toBeNull();
    const jobs = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM jobs WHERE flow_id = $1', [flowId]);
    expect(jobs.rows[0]!.n).toBe(3);
  });

  it("runs a saga's compensations in reverse order of success when a step fails for good: compensated", async () => {
    const comp = (name: string, payload: Record<string, unknown> = {}) => ({ compensate: { type: 'flowtest.undo', payload: { name, ...payload } } });
    const { status, body } = await submitFlow({
      saga: true,
      steps: [s('reserve', [], {}, comp('reserve')), s('charge', ['reserve'], {}, comp('charge')), s('notify', ['charge']), s('ship', ['notify'], { fail: true }, comp('ship'))],
    });
    expect(status, JSON.stringify(body)).toBe(202);
    const flowId = body.flowId as string;
    const done = await untilFlow(flowId, (f) => !['running', 'compensating'].includes(f.status));
    expect(done.status).toBe('compensated');
    expect(done.error).toBe('step ship failed: step ship refuses');
    // notify has no compensation; ship failed, so it has nothing to undo.
    expect(runs.filter((r) => r.kind === 'undo').map((r) => r.name)).toEqual(['charge', 'reserve']);
    expect(done.steps.map((x) => [x.name, x.status, x.compensation?.status ?? null])).toEqual([
      ['reserve', 'success', 'success'],
      ['charge', 'success', 'success'],
      ['notify', 'success', null],
      ['ship', 'failed', null],
    ]);
    // Each compensation is an ordinary job of the tenant.
    const undoJob = await demo.job(stepOf(done, 'charge').compensation!.jobId!);
    expect(undoJob.body).toMatchObject({ status: 'success', type: 'flowtest.undo', attempts: 1 });
  });

  it('ends a saga compensation_failed when a compensation fails for good, and runs no earlier one', async () => {
    runs.length = 0;
    const { body } = await submitFlow({
      saga: true,
      steps: [
        s('first', [], {}, { compensate: { type: 'flowtest.undo', payload: { name: 'first' } } }),
        s('second', ['first'], {}, { compensate: { type: 'flowtest.undo', payload: { name: 'second', fail: true } } }),
        s('third', ['second'], { fail: true }),
      ],
    });
    const done = await untilFlow(body.flowId as string, (f) => !['running', 'compensating'].includes(f.status));
    expect(done.status).toBe('compensation_failed');
    expect(done.error).toBe('step third failed: step third refuses; compensation of second failed: cannot undo second');
    expect(runs.filter((r) => r.kind === 'undo').map((r) => r.name)).toEqual(['second']);
    expect(stepOf(done, 'first').compensation).toMatchObject({ status: null, jobId: null });
  });

  it('cancels a flow: its running step is aborted through the job cancel path, the rest skipped; cancel is idempotent', async () => {
    const { body } = await submitFlow({ steps: [s('long', [], { ms: 60_000 }), s('after', ['long'])] });
    const flowId = body.flowId as string;
    const running = await untilFlow(flowId, (f) => stepOf(f, 'long').phase === 'processing');
    const jobId = stepOf(running, 'long').jobId!;

    const res = await demo.request(`/flows/${flowId}/cancel`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ flowId, status: 'cancelled', cancelledJobs: [jobId] });
    const done = await untilFlow(flowId, (f) => stepOf(f, 'long').status !== 'running');
    expect(done.status).toBe('cancelled');
    expect(done.steps.map((x) => [x.name, x.status])).toEqual([
      ['long', 'cancelled'],
      ['after', 'skipped'],
    ]);
    expect((await demo.job(jobId)).body).toMatchObject({ status: 'cancelled' });

    const again = await demo.request(`/flows/${flowId}/cancel`, { method: 'POST' });
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ flowId, status: 'cancelled', cancelledJobs: [] });
  });

  it('answers 409 to cancelling a finished flow, 404 to an unknown one', async () => {
    const { body } = await submitFlow({ steps: [s('only')] });
    const flowId = body.flowId as string;
    await untilFlow(flowId, (f) => f.status === 'success');
    const res = await demo.request(`/flows/${flowId}/cancel`, { method: 'POST' });
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ error: 'flow already finished: success', details: { status: 'success' } });
    expect((await demo.request('/flows/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await demo.request('/flows/not-a-flow')).status).toBe(404);
  });

  it('answers a retried submit with the same Idempotency-Key and body with the first flow, another body with 409', async () => {
    const body = { name: 'once', steps: [s('x'), s('y', ['x'])] };
    const send = (payload: unknown) => demo.request('/flows', { method: 'POST', body: JSON.stringify(payload), headers: { 'idempotency-key': 'flow-once-1' } });
    const first = await send(body);
    expect(first.status).toBe(202);
    const created = (await first.json()) as { flowId: string; replayed: boolean; enqueued: number };
    expect(created).toMatchObject({ replayed: false, enqueued: 1 });
    const again = await send(body);
    expect(again.status).toBe(202);
    expect(await again.json()).toMatchObject({ flowId: created.flowId, replayed: true, enqueued: 0 });
    const other = await send({ ...body, name: 'twice' });
    expect(other.status).toBe(409);
    expect(await other.json()).toMatchObject({ details: { flowId: created.flowId } });
    await untilFlow(created.flowId, (f) => f.status === 'success');
    // One flow and one job per step: the replay stored nothing.
    const stored = await db.query<{ flows: number; jobs: number }>(
      "SELECT (SELECT count(*) FROM flows WHERE idempotency_key = 'flow-once-1')::int AS flows, (SELECT count(*) FROM jobs WHERE flow_id = $1)::int AS jobs",
      [created.flowId],
    );
    expect(stored.rows[0]).toEqual({ flows: 1, jobs: 2 });
  });

  it("is tenant-scoped as jobs are: another tenant's flow is 404, an operator reads any", async () => {
    const res = await admin.request('/flows', { method: 'POST', body: JSON.stringify({ steps: [s('theirs', [], { ms: 10_000 })] }) });
    expect(res.status).toBe(202);
    const { flowId } = (await res.json()) as { flowId: string };
    expect((await demo.request(`/flows/${flowId}`)).status).toBe(404);
    expect((await demo.request(`/flows/${flowId}/cancel`, { method: 'POST' })).status).toBe(404);
    const { body } = await submitFlow({ steps: [s('mine')] });
    const read = await admin.request(`/flows/${body.flowId as string}`);
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({ flowId: body.flowId, steps: [{ name: 'mine' }] });
    // The operator's own flow is still running: demo's cancel above touched nothing.
    expect((await admin.request(`/flows/${flowId}/cancel`, { method: 'POST' })).status).toBe(200);
  });
});

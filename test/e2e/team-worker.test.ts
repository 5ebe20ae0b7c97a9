import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import pg from 'pg';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { createSqsClient } from '@conveyor/platform';
import { poolQueueNames, queueUrl, WORKER_POOLS } from '@conveyor/jobs';
import { awsOptions } from '../support/infra.js';
import { isAlive, makeStart, ROOT, workerPort, type MadeStack } from '../support/make-start.js';
import { readUntil, waitUntil } from '../support/wait.js';
import { drainQueue, eventsOf } from '../../packages/worker-sdk/test/support.js';
import { ConveyorClient } from './client.js';

/**
 * The path a team takes with examples/team-worker: build it from its folder alone (a copy of the
 * folder beside the SDK's publishable package, `npm install`, `npm run build`, as in the team's own
 * repository), `make start` with CONVEYOR_WORKER_POOLS naming its k8s/workerpool.yaml (the pool's
 * queues provisioned, its worker started with the pool's settings), its JobType registered through
 * the gateway's PUT /job-types from k8s/jobtype.yaml's spec, then jobs submitted through the
 * gateway and their results read back. `make stop` drains and ends the team's worker too.
 */
describe('the example team worker: built from its folder, started by make start, used through the gateway', () => {
  let work: string;
  let example: string;
  let stack: MadeStack;
  let admin: ConveyorClient;
  let demo: ConveyorClient;
  let db: pg.Pool;
  let sqs: SQSClient;
  let opsUrl: string;

  const login = async (email: string, password: string) => {
    const res = await fetch(`${stack.gatewayUrl}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    expect(res.status).toBe(200);
    return new ConveyorClient(stack.gatewayUrl, ((await res.json()) as { accessToken: string }).accessToken);
  };
  const put = (name: string, body: unknown) => admin.request(`/job-types/${name}`, { method: 'PUT', body: JSON.stringify(body) });
  const result = async (jobId: string) => {
    const res = await demo.request(`/jobs/${jobId}/result`);
    expect(res.status).toBe(200);
    return res.json();
  };

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'team-worker-'));
    // Without the npm_* variables npx passes down, which would make the example's npm act on this repository.
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)));
    const run = (cwd: string, command: string, args: string[]) =>
      execFileSync(command, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 180_000 });
    run(ROOT, process.execPath, ['packages/worker-sdk/scripts/pack.mjs']);
    cpSync(path.join(ROOT, 'packages/worker-sdk/pack'), path.join(work, 'packages/worker-sdk/pack'), { recursive: true });
    example = path.join(work, 'examples/team-worker');
    cpSync(path.join(ROOT, 'examples/team-worker'), example, {
      recursive: true,
      filter: (source) => !/[/\\](node_modules|dist)$/.test(source),
    });
    run(example, 'npm', ['install', '--no-audit', '--no-fund', '--prefer-offline']);
    run(example, 'npm', ['run', 'build']);

    // The copy's manifest: its conveyor.dev/local-dir (..) is the copy's folder, built above.
    stack = await makeStart('team', { CONVEYOR_WORKER_POOLS: path.join(example, 'k8s/workerpool.yaml') }, { teamPools: 1 });
    opsUrl = `http://127.0.0.1:${workerPort(stack.portBase, WORKER_POOLS.length) + 1000}`;
    [admin, demo] = await Promise.all([login('admin@example.com', 'admin-password'), login('demo@example.com', 'demo-password')]);
    db = new pg.Pool({ connectionString: stack.database.url, max: 2 });
    sqs = createSqsClient(awsOptions);
  }, 420_000);
  afterAll(async () => {
    sqs?.destroy();
    await db?.end();
    await stack?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  }, 120_000);

  it("provisions the pool's queues from the manifest and starts its worker with the pool's settings", async () => {
    const names = poolQueueNames(stack.instance, 'team-text');
    for (const queue of [names.queue, names.deadLetterQueue, names.classQueues.high, names.classQueues.low]) {
      expect(await queueUrl(sqs, queue), queue).toBeDefined();
    }
    expect((await fetch(`${opsUrl}/readyz`)).status).toBe(200);
    const log = readFileSync(path.join(stack.logDir, 'worker-team-text.log'), 'utf8');
    // The worker's start line: its pool, its queue and the manifest's concurrency (8; the SDK's default is 16).
    expect(log).toMatch(/"pool":"team-text".*"queue":"[^"]*conveyor-team-text".*"concurrency":8/);
  });

  it("registers text.word-count through the gateway from k8s/jobtype.yaml's spec", async () => {
    const manifest = parse(readFileSync(path.join(example, 'k8s/jobtype.yaml'), 'utf8')) as { metadata: { name: string }; spec: Record<string, unknown> };
    const res = await put(manifest.metadata.name, manifest.spec);
    expect(res.status, await res.clone().text()).toBe(201);
    expect(await res.json()).toMatchObject({ name: 'text.word-count', latestVersion: 1, latest: { pool: 'team-text', maxAttempts: 3, timeoutSeconds: 30 } });
    // A pool with no queue is refused: its jobs would reach no queue.
    const nowhere = await put('text.nowhere', { ...manifest.spec, pool: 'team-nowhere' });
    expect(nowhere.status).toBe(422);
    expect(await nowhere.json()).toMatchObject({ details: [{ path: ['pool'], message: expect.stringMatching(/^pool team-nowhere has no queue/) }] });
  });

  it('runs text.word-count submitted through the gateway: its result by GET /jobs/{id}/result, its progress note', async () => {
    const { res, body } = await demo.submit({ type: 'text.word-count', payload: { text: 'the cat and the hat and the bat', top: 2 } });
    expect(res.status, JSON.stringify(body)).toBe(202);
    const jobId = body.jobId as string;
    expect(await demo.waitForFinish(jobId, 30_000)).toMatchObject({ status: 'success', attempts: 1 });
    expect(await result(jobId)).toEqual({ words: 8, top: [{ word: 'the', count: 3 }, { word: 'and', count: 2 }] });
    const events = await eventsOf(db, jobId);
    expect(events.find((e) => e.type === 'progress')?.data).toEqual({ progress: 0.5, attempt: 1, message: '8 words read' });
    const metrics = await (await fetch(`${opsUrl}/metrics`)).text();
    expect(metrics).toMatch(/conveyor_jobs_succeeded_total\{type="text.word-count",service="team-text-worker"\} 1/);
  });

  it('refuses a payload failing the registered schema with 422 and the failing paths', async () => {
    const { res, body } = await demo.submit({ type: 'text.word-count', payload: { text: 42, top: 99, extra: true } });
    expect(res.status).toBe(422);
    expect(body.error).toBe('payload does not match the schema of text.word-count v1');
    expect((body.details as Array<{ path: unknown[] }>).map((d) => d.path)).toEqual(
      expect.arrayContaining([['payload', 'text'], ['payload', 'top'], ['payload', 'extra']]),
    );
  });

  it("fails a type its pool's worker does not run, and a permanent error, with their reasons, to the DLQ, and keeps running", async () => {
    // Registered on the team's pool, but the team's worker was built without it.
    expect((await put('text.reverse', { schema: { type: 'object' }, pool: 'team-text' })).status).toBe(201);
    const stranger = await demo.submit({ type: 'text.reverse', payload: { text: 'abc' } });
    const empty = await demo.submit({ type: 'text.word-count', payload: { text: '   ' } });
    expect(await demo.waitForFinish(stranger.body.jobId as string, 30_000)).toMatchObject({
      status: 'failed',
      error: 'unknown type: job type "text.reverse" is not run by this worker (pool team-text runs text.word-count)',
    });
    expect(await demo.waitForFinish(empty.body.jobId as string, 30_000)).toMatchObject({ status: 'failed', attempts: 1, error: 'nothing to count: the text is empty' });

    const after = await demo.submit({ type: 'text.word-count', payload: { text: 'still here' } });
    expect(await demo.waitForFinish(after.body.jobId as string, 30_000)).toMatchObject({ status: 'success' });
    expect(await result(after.body.jobId as string)).toEqual({ words: 2, top: [{ word: 'here', count: 1 }, { word: 'still', count: 1 }] });
    const dlq = (await queueUrl(sqs, poolQueueNames(stack.instance, 'team-text').deadLetterQueue))!;
    const dead = (await drainQueue(sqs, dlq, 1)).map((m) => (JSON.parse(m.Body!) as { jobId: string }).jobId);
    expect(dead).toEqual(expect.arrayContaining([stranger.body.jobId, empty.body.jobId]));
  });

  it('lists the team pool in GET /pools and pauses it: a job submitted meanwhile waits with pool_paused and runs after the resume', async () => {
    const listed = (await (await admin.request('/pools')).json()) as { pools: Array<{ name: string; jobTypes: string[] }> };
    expect(listed.pools.map((p) => p.name)).toEqual([...WORKER_POOLS.map((p) => p.name), 'team-text']);
    expect(listed.pools.at(-1)!.jobTypes).toEqual(['text.reverse', 'text.word-count']);
    // Its queues are the team pool's own (the api derives their names as the operator does).
    const shown = await admin.request('/pools/team-text');
    expect(shown.status).toBe(200);
    const team = (await shown.json()) as { queue: { waiting: number } | null };
    expect(team, JSON.stringify(team)).toMatchObject({ name: 'team-text', paused: false, jobTypes: ['text.reverse', 'text.word-count'], queue: { waiting: 0 } });
    expect((await admin.request('/pools/team-nowhere')).status).toBe(404);

    expect((await admin.request('/pools/team-text/pause', { method: 'POST', body: JSON.stringify({ reason: 'team maintenance' }) })).status).toBe(200);
    const held = await demo.submit({ type: 'text.word-count', payload: { text: 'held then run' } });
    expect(held.res.status).toBe(202);
    const jobId = held.body.jobId as string;
    const waiting = await readUntil(
      'the held job to say why it waits',
      async () => (await (await demo.request(`/jobs/${jobId}`)).json()) as { status: string; waitingReason?: string },
      (job) => job.waitingReason === 'pool_paused',
      30_000,
    );
    expect(waiting.status).toBe('running');
    expect(await eventsOf(db, jobId).then((events) => events.filter((e) => e.type === 'started'))).toEqual([]);

    expect((await admin.request('/pools/team-text/resume', { method: 'POST' })).status).toBe(200);
    expect(await demo.waitForFinish(jobId, 30_000)).toMatchObject({ status: 'success', attempts: 1 });
    expect(await result(jobId)).toEqual({ words: 3, top: [{ word: 'held', count: 1 }, { word: 'run', count: 1 }, { word: 'then', count: 1 }] });
  });

  // Last: it stops the stack.
  it('make stop drains the team worker and ends it, without CONVEYOR_WORKER_POOLS', async () => {
    const pid = Number(readFileSync(path.join(stack.logDir, 'worker-team-text.pid'), 'utf8').trim());
    const { CONVEYOR_WORKER_POOLS: _named, ...env } = stack.env;
    const { stdout } = await stack.make('stop', env);
    expect(stdout).toMatch(/worker-team-text stopped/);
    await waitUntil(() => !isAlive(pid), 10_000, 'the team worker to be gone');
    const log = readFileSync(path.join(stack.logDir, 'worker-team-text.log'), 'utf8');
    // The SDK's SIGTERM path, as on a Deployment's scale-down.
    expect(log).toMatch(/"signal":"SIGTERM".*"msg":"draining"/);
  }, 120_000);
});

describe('make start with a wrong WorkerPool manifest', () => {
  it('fails before starting anything, naming the file and the field', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bad-pool-'));
    try {
      const manifest = path.join(dir, 'workerpool.yaml');
      const example = readFileSync(path.join(ROOT, 'examples/team-worker/k8s/workerpool.yaml'), 'utf8');
      writeFileSync(manifest, example.replace('local-dir: ..', `local-dir: ${path.join(ROOT, 'examples/team-worker')}`).replace(/replicas:\n {4}min: 0/, 'replicas:\n    min: 7'));
      const failed = await makeStart('badpool', { CONVEYOR_WORKER_POOLS: manifest }, { teamPools: 1 }).then(
        () => undefined,
        (error: Error) => error.message,
      );
      expect(failed).toContain(`invalid WorkerPool manifest: ${manifest} (WorkerPool team-text): spec.replicas.min: replicas.min must not exceed replicas.max`);
      // make stopped at check-pools: no server and no service was started.
      expect(failed).not.toMatch(/started api|scripts\/infra\/up\.sh|migrate-cli/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});

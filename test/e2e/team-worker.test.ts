import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { createPool, createSqsClient, type Pool } from '@conveyor/platform';
import { migrateJobsSchema, poolQueueNames } from '@conveyor/jobs';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { awsOptions } from '../support/infra.js';
import { freePort, waitForHttp } from '../support/service-process.js';
import {
  aws,
  createQueues,
  deliver,
  drainQueue,
  eventsOf,
  storeJob,
  uniqueNamespace,
  waitForStatus,
  type PoolQueues,
} from '../../packages/worker-sdk/test/support.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * examples/team-worker built from its folder alone, as a team builds it in its own repository: a
 * copy of the folder next to the SDK's publishable package (npm run pack), `npm install` and
 * `npm run build` there, then its process against real Postgres and SQS. The api accepts only the
 * catalog's types until the job type registry lands, so the jobs are stored as the api stores them
 * and sent to the pool's queue as the bridge sends them (the worker tests do the same).
 */
describe('the example team worker, built from its folder alone', () => {
  const namespace = uniqueNamespace('team');
  let work: string;
  let db: TestDatabase;
  let pool: Pool;
  let sqs: SQSClient;
  let queues: PoolQueues;
  let worker: ChildProcess;
  let output = '';
  let opsUrl: string;

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'team-worker-'));
    // Without the npm_* variables npx passes down, which would make the example's npm act on this repository.
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)));
    const run = (cwd: string, command: string, args: string[]) =>
      execFileSync(command, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 180_000 });
    run(ROOT, process.execPath, ['packages/worker-sdk/scripts/pack.mjs']);
    cpSync(path.join(ROOT, 'packages/worker-sdk/pack'), path.join(work, 'packages/worker-sdk/pack'), { recursive: true });
    const example = path.join(work, 'examples/team-worker');
    cpSync(path.join(ROOT, 'examples/team-worker'), example, {
      recursive: true,
      filter: (source) => !/[/\\](node_modules|dist)$/.test(source),
    });
    run(example, 'npm', ['install', '--no-audit', '--no-fund', '--prefer-offline']);
    run(example, 'npm', ['run', 'build']);

    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 4 });
    await migrateJobsSchema(pool);
    sqs = createSqsClient(awsOptions);
    queues = await createQueues(sqs, poolQueueNames(namespace, 'team-text'), { visibilityTimeoutSeconds: 60, maxReceiveCount: 10 });
    const opsPort = await freePort();
    opsUrl = `http://127.0.0.1:${opsPort}`;
    worker = spawn(process.execPath, ['dist/main.js'], {
      cwd: example,
      env: {
        PATH: process.env.PATH,
        ...aws,
        DATABASE_URL: db.url,
        CONVEYOR_NAMESPACE: namespace,
        OPS_PORT: String(opsPort),
        RECEIVE_WAIT_SECONDS: '1',
        HEARTBEAT_INTERVAL_MS: '300',
        LEASE_SECONDS: '5',
        SHUTDOWN_GRACE_MS: '10000',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    worker.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    worker.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitForHttp(`${opsUrl}/readyz`, 200, 30_000);
  }, 240_000);
  afterAll(async () => {
    if (worker && worker.exitCode === null) worker.kill('SIGKILL');
    sqs?.destroy();
    await pool?.end();
    await db?.drop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const submit = async (type: string, payload: unknown) => {
    const stored = await storeJob(pool, { type, payload });
    await deliver(sqs, queues.queueUrl, stored);
    return stored;
  };

  it('runs its text.word-count job: result, progress with its note, metrics of its own service name', async () => {
    const { jobId } = await submit('text.word-count', { text: 'the cat and the hat and the bat', top: 2 });
    const done = await waitForStatus(pool, jobId, 'success');
    expect(done).toMatchObject({ attempts: 1, result: { json: { words: 8, top: [{ word: 'the', count: 3 }, { word: 'and', count: 2 }] } }, progress: 1 });
    const events = await eventsOf(pool, jobId);
    expect(events.map((e) => e.type)).toEqual(['created', 'started', 'progress', 'succeeded']);
    expect(events[2]!.data).toEqual({ progress: 0.5, attempt: 1, message: '8 words read' });
    const metrics = await (await fetch(`${opsUrl}/metrics`)).text();
    expect(metrics).toMatch(/conveyor_jobs_succeeded_total\{type="text.word-count",service="team-text-worker"\} 1/);
  });

  it('fails a type it does not run with that reason, moves it to the DLQ, and keeps running', async () => {
    const stranger = await submit('noop', {});
    expect(await waitForStatus(pool, stranger.jobId, 'failed')).toMatchObject({
      attempts: 0,
      error: 'unknown type: job type "noop" is not run by this worker (pool team-text runs text.word-count)',
    });
    const invalid = await submit('text.word-count', { text: 42 });
    expect((await waitForStatus(pool, invalid.jobId, 'failed')).error).toMatch(/^invalid payload: text: /);
    const empty = await submit('text.word-count', { text: '   ' });
    expect(await waitForStatus(pool, empty.jobId, 'failed')).toMatchObject({ attempts: 1, error: 'nothing to count: the text is empty' });

    const after = await submit('text.word-count', { text: 'still here' });
    expect((await waitForStatus(pool, after.jobId, 'success')).result).toEqual({ json: { words: 2, top: [{ word: 'here', count: 1 }, { word: 'still', count: 1 }] } });
    const dead = (await drainQueue(sqs, queues.dlqUrl, 1)).map((m) => m.Body);
    expect(dead).toEqual(expect.arrayContaining([stranger.body, invalid.body, empty.body]));
    expect((await fetch(`${opsUrl}/readyz`)).status).toBe(200);
  });

  it('drains on SIGTERM and exits 0', async () => {
    const exited = new Promise<number | null>((resolve) => worker.once('exit', (code) => resolve(code)));
    worker.kill('SIGTERM');
    expect(await exited, output.slice(-2000)).toBe(0);
  });
});

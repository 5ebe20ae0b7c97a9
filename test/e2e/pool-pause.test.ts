import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { setPoolPaused } from '@conveyor/jobs';
import { startPlatform, type Platform } from '../support/platform.js';
import { readUntil } from '../support/wait.js';
import type { ConveyorClient } from './client.js';
import { connectTo } from './connect.js';

interface PoolStatus {
  name: string;
  paused: boolean;
  pausedAt: string | null;
  pausedBy: string | null;
  pauseReason: string | null;
  queue: { waiting: number; inFlight: number; delayed: number; deadLetters: number } | null;
}

const N = 24;

/**
 * Pausing a worker pool (issues 22 and 23) through the real gateway, api, bridge and scheduler, with
 * TWO workers of the pool, on real Postgres, Kafka and the SQS emulator: jobs submitted while paused
 * are accepted and held (not one starts, none is received over and over), a running job finishes,
 * and after the resume each held job runs exactly once, with nothing in the DLQ. Also when the
 * workers missed the pause's notification: the claim refuses the jobs and tells them.
 */
describe('pause and resume a pool through the gateway', () => {
  let platform: Platform;
  let demo: ConveyorClient;
  let admin: ConveyorClient;
  let db: pg.Pool;

  const until = <T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 60_000) => readUntil(what, read, done, timeoutMs);
  const pool = async (client: ConveyorClient, name = 'default') => {
    const res = await client.request(`/pools/${name}`);
    expect(res.status).toBe(200);
    return (await res.json()) as PoolStatus;
  };
  const post = async (client: ConveyorClient, path: string, body?: unknown) => {
    const res = await client.request(path, { method: 'POST', ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    return { status: res.status, body: (await res.json()) as PoolStatus };
  };
  const started = async (ids: string[]) =>
    (
      await db.query<{ job_id: string; n: number }>(
        "SELECT j.id AS job_id, count(e.id)::int AS n FROM jobs j LEFT JOIN job_events e ON e.job_id = j.id AND e.type = 'started' WHERE j.id = ANY($1) GROUP BY j.id",
        [ids],
      )
    ).rows;

  const submitNoop = async (i: number) => {
    const { res, body } = await demo.submit({ type: 'noop', payload: { i } });
    expect(res.status).toBe(202);
    return String(body.jobId);
  };

  beforeAll(async () => {
    // The workers re-read the pause state only when told (NOTIFY) or when a claim finds the pool
    // paused: the first test shows the notification alone is prompt, the second the claim's guard.
    platform = await startPlatform({ pools: ['default'], workerEnv: { POOL_PAUSE_REFRESH_MS: '600000' } });
    await platform.startWorker('default');
    ({ demo, admin, db } = await connectTo(platform));
  }, 240_000);
  afterAll(async () => {
    await db?.end();
    await platform?.stop();
  });

  it('refuses a tenant (403) and an unknown pool (404)', async () => {
    expect((await demo.request('/pools/default/pause', { method: 'POST' })).status).toBe(403);
    expect((await demo.request('/pools/default/resume', { method: 'POST' })).status).toBe(403);
    expect((await admin.request('/pools/nope/pause', { method: 'POST' })).status).toBe(404);
    expect((await pool(demo)).paused).toBe(false);
  });

  it('holds the jobs submitted while paused across two workers, lets a running job finish, and runs each held job once after the resume', async () => {
    expect(platform.services.workers.filter((w) => w.name === 'worker')).toHaveLength(2);
    // A job already running when the pool is paused finishes.
    const running = await demo.submit({ type: 'sleep', payload: { ms: 3_000 } });
    expect(running.res.status).toBe(202);
    const runningId = String(running.body.jobId);
    await until('the sleep job running', async () => (await demo.job(runningId)).body.phase, (phase) => phase === 'processing');

    const paused = await post(admin, '/pools/default/pause', { reason: 'e2e maintenance' });
    expect(paused.status).toBe(200);
    expect(paused.body).toMatchObject({ name: 'default', paused: true, pauseReason: 'e2e maintenance' });
    expect(paused.body.pausedBy).toMatch(/\S/);
    const again = await post(admin, '/pools/default/pause');
    expect(again.status, 'pausing a paused pool is no error').toBe(200);
    expect(again.body).toMatchObject({ paused: true, pausedAt: paused.body.pausedAt, pausedBy: paused.body.pausedBy, pauseReason: 'e2e maintenance' });

    const ids: string[] = [];
    for (let i = 0; i < N; i++) ids.push(await submitNoop(i));
    expect((await demo.waitForFinish(runningId, 30_000)).status, 'the running job finished while paused').toBe('success');

    // Every held message reaches the queue and stays there, visible: no worker keeps receiving it.
    await until('the held messages in SQS', () => pool(admin), (p) => (p.queue?.waiting ?? 0) >= N && p.queue?.inFlight === 0);
    await new Promise((r) => setTimeout(r, 5_000));
    const held = await pool(admin);
    expect(held).toMatchObject({ paused: true, pausedAt: paused.body.pausedAt, queue: { waiting: N, inFlight: 0, deadLetters: 0 } });
    expect((await pool(demo)).paused, 'a tenant sees the pause too').toBe(true);
    // Both workers heard it (their gauge), not just the one that happened to look.
    for (const worker of platform.services.workers) {
      expect(await (await fetch(`${worker.opsUrl}/metrics`)).text(), worker.opsUrl).toMatch(/^conveyor_worker_pool_paused\{pool="default"[^}]*\} 1$/m);
    }
    expect((await started(ids)).every((row) => row.n === 0), 'no held job started').toBe(true);
    for (const id of ids.slice(0, 3)) {
      const { res, body } = await demo.job(id);
      expect(res.status).toBe(202);
      expect(body).toMatchObject({ status: 'running', phase: 'queued', attempts: 0, waitingReason: 'pool_paused' });
    }

    const resumed = await post(admin, '/pools/default/resume');
    expect(resumed.status).toBe(200);
    expect(resumed.body).toMatchObject({ paused: false, pausedAt: null, pausedBy: null, pauseReason: null });
    expect((await post(admin, '/pools/default/resume')).status, 'resuming a running pool is no error').toBe(200);

    for (const id of ids) expect((await demo.waitForFinish(id, 60_000)).status, id).toBe('success');
    expect((await started(ids)).map((row) => row.n), 'each held job started exactly once').toEqual(ids.map(() => 1));
    for (const worker of platform.services.workers) {
      expect(await (await fetch(`${worker.opsUrl}/metrics`)).text(), worker.opsUrl).toMatch(/^conveyor_worker_pool_paused\{pool="default"[^}]*\} 0$/m);
    }
    const after = await until('the queue drained', () => pool(admin), (p) => p.queue?.waiting === 0 && p.queue?.inFlight === 0);
    expect(after.queue!.deadLetters, 'nothing went to the DLQ').toBe(0);

    const { rows } = await db.query<{ action: string; actor: string; reason: string | null }>(
      "SELECT action, actor, reason FROM pool_control_events WHERE pool = 'default' ORDER BY id",
    );
    expect(rows).toEqual([
      { action: 'paused', actor: paused.body.pausedBy, reason: 'e2e maintenance' },
      { action: 'resumed', actor: paused.body.pausedBy, reason: null },
    ]);
  }, 180_000);

  it('holds the jobs when the workers missed the notification: the claim refuses them and the workers stop receiving', async () => {
    // Written as the api writes it, but without the NOTIFY: as if every worker missed it.
    expect((await setPoolPaused(db, 'default', true, 'e2e-direct', 'missed notification')).changed).toBe(true);
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push(await submitNoop(i));
    await until('the held messages in SQS', () => pool(admin), (p) => p.queue?.waiting === ids.length && p.queue?.inFlight === 0);
    await new Promise((r) => setTimeout(r, 4_000));
    expect((await pool(admin)).queue).toMatchObject({ waiting: ids.length, inFlight: 0, deadLetters: 0 });
    expect((await started(ids)).every((row) => row.n === 0), 'no held job started').toBe(true);

    expect((await post(admin, '/pools/default/resume')).body.paused).toBe(false);
    for (const id of ids) expect((await demo.waitForFinish(id, 60_000)).status, id).toBe('success');
    expect((await started(ids)).map((row) => row.n), 'each held job started exactly once').toEqual(ids.map(() => 1));
    expect((await pool(admin)).queue!.deadLetters, 'nothing went to the DLQ').toBe(0);
  }, 120_000);
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startPlatform, type Platform } from '../support/platform.js';
import { readUntil } from '../support/wait.js';
import type { ConveyorClient } from './client.js';
import { connectTo } from './connect.js';
import { poolRuns } from './pool-runs.js';

interface PoolQueue {
  waiting: number;
  inFlight: number;
  waitingByPriority: { high: number; normal: number; low: number };
}

/**
 * Priority classes (issue 23) through the real gateway, api, bridge, scheduler and TWO workers of
 * one pool, on real Postgres, Kafka and the SNS/SQS emulator. Each backlog is built while the pool
 * is paused, so every message is in its class queue before a worker receives any: the order the
 * jobs start in is the workers' receive order, not the order the pipeline happened to deliver in.
 */
describe('priority classes through the whole pipeline', () => {
  let platform: Platform;
  let demo: ConveyorClient;
  let admin: ConveyorClient;
  let db: pg.Pool;

  const until = <T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 90_000) => readUntil(what, read, done, timeoutMs);
  let runs: ReturnType<typeof poolRuns>;
  const queue = () => runs.queue<PoolQueue>();
  const submitAll = async (jobs: unknown[]) => {
    const ids: string[] = [];
    for (let i = 0; i < jobs.length; i += 500) {
      const { res, body } = await demo.submit({ jobs: jobs.slice(i, i + 500) }, '/jobs/batch');
      expect(res.status).toBe(202);
      ids.push(...(body.items as Array<{ jobId: string }>).map((item) => item.jobId));
    }
    return ids;
  };
  const finishedAll = async (ids: string[]) => (await runs.finished(ids)) === ids.length;
  const expectEachRanOnce = async (ids: string[]) => {
    await until('every job to succeed', () => finishedAll(ids), Boolean, 180_000);
    const started = await runs.starts(ids);
    expect(started.size).toBe(ids.length);
    expect([...started.values()].every((at) => at.length === 1), 'a job started twice').toBe(true);
  };

  beforeAll(async () => {
    platform = await startPlatform({ pools: ['default'], workerEnv: { WORKER_CONCURRENCY: '2' } });
    await platform.startWorker('default');
    ({ demo, admin, db } = await connectTo(platform));
    runs = poolRuns(admin, db);
  }, 240_000);
  afterAll(async () => {
    await db?.end();
    await platform?.stop();
  });

  it('starts a high job submitted behind a backlog of normal jobs long before the backlog is done', async () => {
    const BACKLOG = 300;
    await runs.control('pause');
    const backlog = await submitAll(Array.from({ length: BACKLOG }, () => ({ type: 'sleep', payload: { ms: 100 } })));
    await until('the backlog in the normal queue', queue, (q) => q.waitingByPriority.normal === BACKLOG);
    await runs.control('resume');
    await until('the backlog draining', () => runs.starts(backlog), (s) => s.size >= 20);

    const { res, body } = await demo.submit({ type: 'noop', payload: {}, priority: 'high' });
    expect(res.status).toBe(202);
    const highId = String(body.jobId);
    await until('the high job to finish', () => finishedAll([highId]), Boolean);
    const highStart = (await runs.starts([highId])).get(highId)![0]!;
    const backlogStarts = [...(await runs.starts(backlog)).values()].map((at) => at[0]!);
    const after = backlogStarts.filter((at) => at > highStart).length + (BACKLOG - backlogStarts.length);
    console.log(`high job started with ${after} of ${BACKLOG} normal jobs still to start`);
    // It overtook nearly all of the backlog it was queued behind (FIFO would have it start last).
    expect(after).toBeGreaterThan(BACKLOG / 2);
    await expectEachRanOnce([...backlog, highId]);
  }, 300_000);

  it('keeps running low jobs while high work keeps coming: the lower classes\' guaranteed share', async () => {
    const HIGH = 400;
    const LOW = 8;
    await runs.control('pause');
    const high = await submitAll(Array.from({ length: HIGH }, () => ({ type: 'sleep', payload: { ms: 100 }, priority: 'high' })));
    const low = await submitAll(Array.from({ length: LOW }, () => ({ type: 'noop', payload: {}, priority: 'low' })));
    await until('both backlogs in their queues', queue, (q) => q.waitingByPriority.high === HIGH && q.waitingByPriority.low === LOW);
    await runs.control('resume');
    await until('every low job to finish', () => finishedAll(low), Boolean, 180_000);

    const highStarts = [...(await runs.starts(high)).values()].map((at) => at[0]!);
    const lastLow = Math.max(...[...(await runs.starts(low)).values()].map((at) => at[0]!.getTime()));
    const highAfter = highStarts.filter((at) => at.getTime() > lastLow).length + (HIGH - highStarts.length);
    console.log(`all ${LOW} low jobs started with ${highAfter} of ${HIGH} high jobs still to start`);
    // Low leads 1 receive in 10 (RECEIVE_WEIGHTS): its 8 jobs need about 80 receives of the ~200+
    // the high backlog takes. Strict priority would start them after all 400.
    expect(highAfter).toBeGreaterThan(HIGH / 5);
    await expectEachRanOnce([...high, ...low]);
  }, 300_000);
});

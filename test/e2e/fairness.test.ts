import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTokenKit } from '../hostile/tokens.js';
import { startPlatform, type Platform } from '../support/platform.js';
import { readUntil } from '../support/wait.js';
import { ConveyorClient } from './client.js';
import { connectTo } from './connect.js';
import { poolRuns } from './pool-runs.js';

interface PoolQueue {
  waiting: number;
  waitingOverflow: number;
}

/** A tenant's waiting jobs in a pool past which its further jobs take the overflow lane (the api's TENANT_OVERFLOW_AFTER). */
const OVERFLOW_AFTER = 100;

/**
 * Fairness between tenants (issue 23) through the real gateway, api, bridge, scheduler and TWO
 * workers of one pool, on real Postgres, Kafka and the SNS/SQS emulator. A burst tenant's backlog of
 * thousands is built while the pool is paused, so all of it is in the pool's queues before a worker
 * receives any; a quiet tenant then submits one job at a time while the burst drains.
 */
describe('fairness between tenants through the whole pipeline', () => {
  let platform: Platform;
  let burst: ConveyorClient;
  let quiet: ConveyorClient;
  let admin: ConveyorClient;
  let db: pg.Pool;

  const until = <T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 120_000) => readUntil(what, read, done, timeoutMs);
  let runs: ReturnType<typeof poolRuns>;
  const queue = () => runs.queue<PoolQueue>();

  beforeAll(async () => {
    const tokens = await createTokenKit();
    platform = await startPlatform({
      pools: ['default'],
      workerEnv: { WORKER_CONCURRENCY: '2' },
      env: { TENANT_OVERFLOW_AFTER: String(OVERFLOW_AFTER) },
      gatewayEnv: { JWT_DEV_SIGNING_KEY: tokens.signingKeyPem },
    });
    await platform.startWorker('default');
    ({ admin, db } = await connectTo(platform));
    runs = poolRuns(admin, db);
    const as = async (tenant: string) => new ConveyorClient(platform.gatewayUrl, await tokens.valid({ sub: `${tenant}-user`, tenant, scope: 'jobs:read jobs:write' }, '30m'));
    [burst, quiet] = await Promise.all([as('burst-co'), as('quiet-co')]);
  }, 240_000);
  afterAll(async () => {
    await db?.end();
    await platform?.stop();
  });

  it("starts a quiet tenant's jobs ahead of most of another tenant's burst, each job once", async () => {
    const BURST = 2_000;
    await runs.control('pause');
    const burstIds: string[] = [];
    for (let i = 0; i < BURST; i += 500) {
      const { res, body } = await burst.submit({ jobs: Array.from({ length: 500 }, () => ({ type: 'sleep', payload: { ms: 5 } })) }, '/jobs/batch');
      expect(res.status).toBe(202);
      burstIds.push(...(body.items as Array<{ jobId: string }>).map((item) => item.jobId));
    }
    // The api routed all but the first OVERFLOW_AFTER to the overflow lane, and the bridge and SNS
    // put them in the pool's overflow queue.
    const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1) AND overflow', [burstIds]);
    expect(rows[0]!.n).toBe(BURST - OVERFLOW_AFTER);
    await until('the burst in the pool\'s queues', queue, (q) => q.waiting === BURST && q.waitingOverflow === BURST - OVERFLOW_AFTER);
    await runs.control('resume');
    await until('the burst draining', () => runs.starts(burstIds), (s) => s.size >= 50);

    const quietIds: string[] = [];
    for (let i = 0; i < 10; i++) {
      const { res, body } = await quiet.submit({ type: 'noop', payload: { i } });
      expect(res.status).toBe(202);
      quietIds.push(String(body.jobId));
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    // Under its threshold, the quiet tenant's jobs took the regular lane.
    expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1) AND overflow', [quietIds])).rows[0]!.n).toBe(0);
    await until('every quiet job to finish', () => runs.finished(quietIds), (n) => n === quietIds.length);

    const lastQuiet = Math.max(...[...(await runs.starts(quietIds)).values()].map((at) => at[0]!.getTime()));
    const burstStarts = [...(await runs.starts(burstIds)).values()].map((at) => at[0]!.getTime());
    const burstAfter = burstStarts.filter((at) => at > lastQuiet).length + (BURST - burstStarts.length);
    console.log(`the quiet tenant's 10 jobs all started with ${burstAfter} of ${BURST} burst jobs still to start`);
    // First in, first out, the quiet jobs would start after the whole burst.
    expect(burstAfter).toBeGreaterThan(BURST / 2);

    await until('every burst job to finish', () => runs.finished(burstIds), (n) => n === BURST, 300_000);
    const started = await runs.starts([...burstIds, ...quietIds]);
    expect(started.size).toBe(BURST + quietIds.length);
    expect([...started.values()].every((at) => at.length === 1), 'a job started twice').toBe(true);
    await until('the queues empty', queue, (q) => q.waiting === 0 && q.waitingOverflow === 0);
  }, 480_000);
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startPlatform, type Platform } from '../support/platform.js';
import { readUntil } from '../support/wait.js';
import type { ConveyorClient } from './client.js';
import { connectTo } from './connect.js';

interface Quota {
  tenant: string;
  limits: { maxQueued: number | null; maxRunning: number | null; submitsPerMinute: number | null };
  usage: { queued: number; running: number; submitsLastMinute: number };
  updatedBy: string | null;
}

interface Run {
  start: number;
  end: number;
}

/**
 * Tenant quotas and concurrency limits (issue 23) through the real gateway, api, bridge, scheduler
 * and TWO workers of one pool (three handlers each: six slots), on real Postgres, Kafka and the
 * SNS/SQS emulator. The demo user's tenant `demo` is limited; the admin user's tenant `admin` is
 * the other tenant, which no limit of demo's may touch. Workers heartbeat every second with a 5 s
 * lease and the reconciler looks every second, so a killed worker's slot comes back within the test.
 */
describe('quotas and concurrency limits through the gateway', () => {
  let platform: Platform;
  let demo: ConveyorClient;
  let admin: ConveyorClient;
  let db: pg.Pool;

  const until = <T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 90_000) => readUntil(what, read, done, timeoutMs);
  const putQuota = async (limits: Record<string, unknown>, tenant = 'demo', client = admin) => {
    const res = await client.request(`/tenants/${tenant}/quota`, { method: 'PUT', body: JSON.stringify(limits) });
    return { status: res.status, body: (await res.json()) as Quota & { error?: string; details?: unknown } };
  };
  const getQuota = async (tenant = 'demo') => {
    const res = await admin.request(`/tenants/${tenant}/quota`);
    expect(res.status).toBe(200);
    return (await res.json()) as Quota;
  };
  const submit = async (client: ConveyorClient, body: Record<string, unknown>) => {
    const { res, body: reply } = await client.submit(body);
    expect(res.status, JSON.stringify(reply)).toBe(202);
    return String(reply.jobId);
  };
  const sleepJobs = async (client: ConveyorClient, n: number, ms: number, extra: Record<string, unknown> = {}) => {
    const { res, body } = await client.submit({ jobs: Array.from({ length: n }, () => ({ type: 'sleep', payload: { ms }, ...extra })) }, '/jobs/batch');
    expect(res.status, JSON.stringify(body)).toBe(202);
    return (body.items as Array<{ jobId: string }>).map((item) => item.jobId);
  };
  /** Each job's runs from its events: started, then the event that ended that attempt. */
  const runsOf = async (ids: string[]) => {
    const { rows } = await db.query<{ job_id: string; type: string; at: Date }>(
      `SELECT job_id, type, created_at AS at FROM job_events
        WHERE job_id = ANY($1) AND type IN ('started', 'succeeded', 'failed', 'retried', 'queued') ORDER BY id`,
      [ids],
    );
    const runs = new Map<string, Run[]>();
    for (const row of rows) {
      const list = runs.get(row.job_id) ?? [];
      if (row.type === 'started') list.push({ start: row.at.getTime(), end: Infinity });
      else if (list.length > 0 && list.at(-1)!.end === Infinity) list.at(-1)!.end = row.at.getTime();
      runs.set(row.job_id, list);
    }
    return runs;
  };
  /**
   * Most runs overlapping at once by the events' timestamps. A start is stamped with its claim's
   * transaction start, which may come a moment before the end it waited for was committed, so
   * overlaps shorter than SLACK_MS are not counted (the sampler below reads committed state).
   */
  const SLACK_MS = 50;
  const mostAtOnce = (runs: Run[]) => {
    const points = runs.flatMap((r) => [
      { at: r.start + SLACK_MS, d: 1 },
      { at: r.end, d: -1 },
    ]);
    points.sort((a, b) => a.at - b.at || a.d - b.d);
    let now = 0;
    let most = 0;
    for (const p of points) most = Math.max(most, (now += p.d));
    return most;
  };
  /** The longest stretch in which fewer than `slots` ran while some of the jobs had not started yet. */
  const longestUnderUsed = (runs: Run[], slots: number) => {
    const lastStart = Math.max(...runs.map((r) => r.start));
    const points = runs.flatMap((r) => [
      { at: r.start, d: 1 },
      { at: r.end, d: -1 },
    ]);
    points.sort((a, b) => a.at - b.at || b.d - a.d);
    let now = 0;
    let since: number | undefined;
    let longest = 0;
    for (const p of points) {
      if (p.at > lastStart) break;
      now += p.d;
      if (now < slots && since === undefined) since = p.at;
      if (now >= slots && since !== undefined) {
        longest = Math.max(longest, p.at - since);
        since = undefined;
      }
    }
    return longest;
  };
  /** Samples the committed count of running jobs matching `where` until stopped; returns the largest seen. */
  const sampleRunning = (where: string, values: unknown[]) => {
    let most = 0;
    let stop = false;
    const done = (async () => {
      while (!stop) {
        const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs WHERE status = 'processing' AND ${where}`, values);
        most = Math.max(most, rows[0]!.n);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    return async () => {
      stop = true;
      await done;
      return most;
    };
  };
  const expectEachSucceededOnce = async (ids: string[], timeoutMs?: number) => {
    await until(
      `${ids.length} jobs to succeed`,
      async () => (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1) AND status = 'success'", [ids])).rows[0]!.n,
      (n) => n === ids.length,
      timeoutMs,
    );
    const runs = await runsOf(ids);
    expect([...runs.values()].every((r) => r.length === 1), 'a job started twice').toBe(true);
    return runs;
  };
  const waitingReason = async (jobId: string) => (await demo.job(jobId)).body.waitingReason;

  beforeAll(async () => {
    platform = await startPlatform({
      pools: ['default'],
      workerEnv: { WORKER_CONCURRENCY: '3', HEARTBEAT_INTERVAL_MS: '1000', LEASE_SECONDS: '5' },
      env: { RECONCILE_INTERVAL_MS: '1000', RECONCILE_PROCESSING_LEASE_SECONDS: '5' },
    });
    await platform.startWorker('default');
    ({ demo, admin, db } = await connectTo(platform));
  }, 240_000);
  afterAll(async () => {
    await db?.end();
    await platform?.stop();
  });

  it('sets and shows a quota for an admin only; a negative, fractional, absurd or mistyped limit is 422 naming it', async () => {
    expect((await putQuota({ maxRunning: 2 }, 'demo', demo)).status).toBe(403);
    expect((await demo.request('/tenants/demo/quota')).status).toBe(403);
    for (const [limits, named] of [
      [{ maxRunning: -1 }, 'maxRunning'],
      [{ maxRunning: 0 }, 'maxRunning'],
      [{ maxQueued: 2.5 }, 'maxQueued'],
      [{ submitsPerMinute: 1_000_000_000 }, 'submitsPerMinute'],
      [{ maxQueued: '10' }, 'maxQueued'],
      [{ maxRunnning: 3 }, 'maxRunnning'],
    ] as const) {
      const { status, body } = await putQuota(limits);
      expect(status, JSON.stringify(limits)).toBe(422);
      expect(body.error).toContain(named === 'maxRunnning' ? 'maxRunnning' : named);
    }
    // Nothing was stored by the refusals.
    expect((await getQuota()).limits).toEqual({ maxQueued: null, maxRunning: null, submitsPerMinute: null });
    const set = await putQuota({ maxRunning: 4, maxQueued: 1000 });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ tenant: 'demo', limits: { maxRunning: 4, maxQueued: 1000, submitsPerMinute: null }, updatedBy: 'user-admin' });
    expect((await putQuota({})).body.limits).toEqual({ maxQueued: null, maxRunning: null, submitsPerMinute: null });
  });

  it('submitsPerMinute: 429 with Retry-After until the window has room, the other tenant unaffected; GET shows usage against the limits', async () => {
    // First of the tests that submit: demo has submitted nothing in the last minute.
    expect((await getQuota()).usage.submitsLastMinute).toBe(0);
    expect((await putQuota({ submitsPerMinute: 3 })).status).toBe(200);
    const accepted = [];
    for (let i = 0; i < 3; i++) accepted.push(await submit(demo, { type: 'noop', payload: { i } }));
    const { res, body } = await demo.submit({ type: 'noop', payload: {} });
    expect(res.status).toBe(429);
    const retryAfter = Number(res.headers.get('retry-after'));
    // The first of the three leaves the window a minute after it was submitted, moments ago.
    expect(retryAfter).toBeGreaterThanOrEqual(45);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(body.details).toMatchObject({ limit: 'submitsPerMinute', retryAfterSeconds: retryAfter });
    expect(String(body.error)).toContain('submitsPerMinute');
    const quota = await getQuota();
    expect(quota.limits.submitsPerMinute).toBe(3);
    expect(quota.usage.submitsLastMinute).toBe(3);
    // The admin tenant submits on; without the limit demo does too.
    accepted.push(await submit(admin, { type: 'noop', payload: {} }));
    expect((await putQuota({})).status).toBe(200);
    accepted.push(await submit(demo, { type: 'noop', payload: {} }));
    await expectEachSucceededOnce(accepted);
  }, 60_000);

  it('never runs more than maxRunning of a tenant at once across two workers; a held job says why and then runs; the other tenant is not held', async () => {
    expect(platform.services.workers.filter((w) => w.name === 'worker')).toHaveLength(2);
    expect((await putQuota({ maxRunning: 2 })).status).toBe(200);
    const stopSampling = sampleRunning(`tenant = 'demo'`, []);
    const limited = await sleepJobs(demo, 10, 600);
    const other = await sleepJobs(admin, 6, 600);

    // A job of demo's waiting for a slot says so, while two of demo's run.
    await until('a held job to say why it waits', () => Promise.all(limited.map(waitingReason)), (reasons) => reasons.includes('tenant_concurrency_limit'));
    expect((await getQuota()).usage.running).toBeLessThanOrEqual(2);

    const otherRuns = await expectEachSucceededOnce(other);
    const runs = await expectEachSucceededOnce(limited);
    const mostSampled = await stopSampling();
    const all = [...runs.values()].flat();
    console.log(`demo (maxRunning 2): most running sampled ${mostSampled}, by the events ${mostAtOnce(all)}; admin's 6 jobs at once: ${mostAtOnce([...otherRuns.values()].flat())}`);
    expect(mostSampled).toBeLessThanOrEqual(2);
    expect(mostAtOnce(all)).toBe(2);
    // The other tenant ran beside demo's and was done long before demo's ten jobs at two at a time.
    expect(mostAtOnce([...otherRuns.values()].flat())).toBeGreaterThanOrEqual(3);
    const lastOther = Math.max(...[...otherRuns.values()].flat().map((r) => r.end));
    const lastDemo = Math.max(...all.map((r) => r.end));
    expect(lastOther).toBeLessThan(lastDemo);
    // A freed slot is taken within a few seconds (the held jobs' backoff is at most 5 s).
    const idle = longestUnderUsed(all, 2);
    console.log(`longest time a slot of demo's stood free while its jobs waited: ${(idle / 1000).toFixed(1)} s`);
    expect(idle).toBeLessThan(8_000);
    const firstStart = Math.min(...all.map((r) => r.start));
    console.log(`demo's 10 jobs (3 s of work at 2 at a time) took ${((lastDemo - firstStart) / 1000).toFixed(1)} s`);
    expect(lastDemo - firstStart).toBeLessThan(30_000);
    expect((await putQuota({})).status).toBe(200);
  }, 180_000);

  it('runs at most concurrencyLimit jobs with the same concurrencyKey; other keys and keyless jobs are not held', async () => {
    const stopOne = sampleRunning(`tenant = 'demo' AND concurrency_key = $1`, ['customer:42']);
    const stopTwo = sampleRunning(`tenant = 'demo' AND concurrency_key = $1`, ['customer:7']);
    const one: string[] = [];
    for (let i = 0; i < 5; i++) one.push(await submit(demo, { type: 'sleep', payload: { ms: 500 }, concurrencyKey: 'customer:42' }));
    const two = await sleepJobs(demo, 6, 500, { concurrencyKey: 'customer:7', concurrencyLimit: 2 });
    const free = await sleepJobs(demo, 4, 500);
    await until('a held job to say why it waits', () => Promise.all(one.map(waitingReason)), (reasons) => reasons.includes('key_concurrency_limit'));

    const freeRuns = await expectEachSucceededOnce(free);
    const oneRuns = [...(await expectEachSucceededOnce(one)).values()].flat();
    const twoRuns = [...(await expectEachSucceededOnce(two)).values()].flat();
    const [mostOne, mostTwo] = [await stopOne(), await stopTwo()];
    console.log(`customer:42 (limit 1): sampled ${mostOne}, events ${mostAtOnce(oneRuns)}; customer:7 (limit 2): sampled ${mostTwo}, events ${mostAtOnce(twoRuns)}`);
    expect(mostOne).toBeLessThanOrEqual(1);
    expect(mostAtOnce(oneRuns)).toBe(1);
    expect(mostTwo).toBeLessThanOrEqual(2);
    expect(mostAtOnce(twoRuns)).toBe(2);
    // Keyless jobs ran beside the keys' queue: all four were done before customer:42's five.
    expect(Math.max(...[...freeRuns.values()].flat().map((r) => r.end))).toBeLessThan(Math.max(...oneRuns.map((r) => r.end)));
  }, 180_000);

  it('starts at most rateLimitPerSecond jobs with the same rateLimitKey in any second across the workers; the held ones say so', async () => {
    const limited = await sleepJobs(demo, 15, 50, { rateLimitKey: 'api.example.com', rateLimitPerSecond: 3 });
    await until('a held job to say why it waits', () => Promise.all(limited.map(waitingReason)), (reasons) => reasons.includes('rate_limited'), 30_000);
    await expectEachSucceededOnce(limited);
    // started_at is stamped by the database's clock where the limit is checked.
    const { rows } = await db.query<{ at: Date }>('SELECT started_at AS at FROM jobs WHERE id = ANY($1) ORDER BY started_at', [limited]);
    const times = rows.map((r) => r.at.getTime());
    const tightest = Math.min(...times.slice(3).map((t, i) => t - times[i]!));
    console.log(`15 jobs at 3/s started over ${((times.at(-1)! - times[0]!) / 1000).toFixed(1)} s; the tightest 4 starts spanned ${tightest} ms`);
    // Any four starts span at least a second: never more than three in one.
    expect(tightest).toBeGreaterThanOrEqual(1_000);
  }, 120_000);

  it('refuses a bad concurrencyKey or rateLimitKey, or a limit without its key (400), storing nothing', async () => {
    for (const body of [
      { type: 'noop', payload: {}, concurrencyKey: 'has space' },
      { type: 'noop', payload: {}, concurrencyKey: 'x'.repeat(129) },
      { type: 'noop', payload: {}, concurrencyKey: 'k', concurrencyLimit: 0 },
      { type: 'noop', payload: {}, concurrencyLimit: 2 },
      { type: 'noop', payload: {}, rateLimitKey: 'a,b' },
      { type: 'noop', payload: {}, rateLimitKey: 'k', rateLimitPerSecond: 1_001 },
      { type: 'noop', payload: {}, rateLimitPerSecond: 2 },
    ]) {
      const { res, body: reply } = await demo.submit(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(JSON.stringify(reply.details)).toMatch(/concurrency(Key|Limit)|rateLimit(Key|PerSecond)/);
    }
    const { res } = await demo.submit({ jobs: [{ type: 'noop', payload: {}, concurrencyKey: 'bad key' }] }, '/jobs/batch');
    expect(res.status).toBe(422);
  });

  it('maxQueued: 429 with Retry-After naming the limit, nothing stored, the other tenant unaffected; room again once jobs run', async () => {
    expect((await admin.request('/pools/default/pause', { method: 'POST' })).status).toBe(200);
    expect((await putQuota({ maxQueued: 3 })).status).toBe(200);
    const before = (await getQuota()).usage;
    expect(before.queued).toBe(0);
    const held: string[] = [];
    for (let i = 0; i < 3; i++) held.push(await submit(demo, { type: 'noop', payload: { i } }));
    const stored = async () => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs WHERE tenant = 'demo'`)).rows[0]!.n;
    const count = await stored();

    const { res, body } = await demo.submit({ type: 'noop', payload: { i: 4 } });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(body.details).toMatchObject({ limit: 'maxQueued' });
    expect(String(body.error)).toContain('maxQueued');
    const batch = await demo.submit({ jobs: [{ type: 'noop', payload: {} }] }, '/jobs/batch');
    expect(batch.res.status).toBe(429);
    expect(batch.res.headers.get('retry-after')).not.toBeNull();
    expect(await stored()).toBe(count);
    // Another tenant is not refused.
    const adminJob = await submit(admin, { type: 'noop', payload: {} });
    expect((await getQuota()).usage.queued).toBe(3);

    expect((await admin.request('/pools/default/resume', { method: 'POST' })).status).toBe(200);
    await expectEachSucceededOnce([...held, adminJob]);
    const after = await submit(demo, { type: 'noop', payload: {} });
    await expectEachSucceededOnce([after]);
    expect((await putQuota({})).status).toBe(200);
  }, 180_000);

  it('a worker killed -9 while holding the only slot does not keep it: the slot comes back after the lease, each job runs, nothing is lost', async () => {
    expect((await putQuota({ maxRunning: 1 })).status).toBe(200);
    const long = await submit(demo, { type: 'sleep', payload: { ms: 10_000 } });
    await until('the long job to start', async () => (await runsOf([long])).get(long)?.length ?? 0, (n) => n === 1);
    const holder = (await db.query<{ locked_by: string }>('SELECT locked_by FROM jobs WHERE id = $1', [long])).rows[0]!.locked_by;
    const waiting = await submit(demo, { type: 'noop', payload: {} });
    await until('the second job to wait for the slot', () => waitingReason(waiting), (r) => r === 'tenant_concurrency_limit');

    // Kill the worker running the long job; the other keeps going.
    const workers = platform.services.workers.filter((w) => w.name === 'worker');
    // A worker's id is host-pid-random (run-worker.ts).
    const victim = workers.find((w) => holder.includes(`-${w.process.pid}-`));
    expect(victim, `a worker whose id ${holder} names its pid`).toBeDefined();
    await victim!.stop('SIGKILL');
    const killedAt = Date.now();
    // The slot comes back once the dead run's lease lapses: the reconciler puts it back to queued.
    await until('the tenant to have no running job', async () => (await getQuota()).usage.running, (n) => n === 0, 30_000);
    const slotFreeMs = Date.now() - killedAt;

    // The killed job is not lost: it runs again and succeeds; the waiting job runs once.
    await until('the killed job to succeed on its second run', async () => (await db.query('SELECT status FROM jobs WHERE id = $1', [long])).rows[0].status, (s) => s === 'success', 120_000);
    const waited = (await expectEachSucceededOnce([waiting], 120_000)).get(waiting)![0]!;
    const rerun = (await runsOf([long])).get(long)!;
    expect(rerun).toHaveLength(2);
    // The reconciler released the dead run (its heartbeat_expired requeue). Which job then starts
    // first, and when, depends on messages: a dead worker's open long polls may have taken the
    // waiting job's message or the requeued one, which come back after the queue's visibility
    // timeout (60 s), as any message a dead worker held does. That is SQS, not the slot.
    const released = await db.query<{ ms: number }>(
      `SELECT extract(epoch FROM created_at) * 1000 - $2::float8 AS ms FROM job_events WHERE job_id = $1 AND type = 'retried' AND data->>'reason' = 'heartbeat_expired'`,
      [long, killedAt],
    );
    expect(released.rows).toHaveLength(1);
    console.log(
      `after the holder was killed: its run released in ${(released.rows[0]!.ms / 1000).toFixed(1)} s, the tenant's slot seen free in ${(slotFreeMs / 1000).toFixed(1)} s (lease 5 s); the killed job's second run at ${((rerun[1]!.start - killedAt) / 1000).toFixed(1)} s, the waiting job at ${((waited.start - killedAt) / 1000).toFixed(1)} s`,
    );
    expect(released.rows[0]!.ms).toBeLessThan(15_000);
    expect(slotFreeMs).toBeLessThan(15_000);
    // One at a time still: the waiting job and the second run did not overlap.
    expect(mostAtOnce([rerun[1]!, waited])).toBe(1);
    expect((await putQuota({})).status).toBe(200);
  }, 240_000);
});

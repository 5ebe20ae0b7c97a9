import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { topology } from '@conveyor/jobs';
import { createSqsClient } from '@conveyor/platform';
import { awsOptions } from '../support/infra.js';
import { queueCensus } from '../support/queue-census.js';
import { startPlatform, type Platform } from '../support/platform.js';
import { readUntil } from '../support/wait.js';
import type { ConveyorClient } from './client.js';
import { connectTo } from './connect.js';

interface Listed {
  jobId: string;
  tenant: string;
  tags: string[];
  status: string;
  createdAt: string;
}
interface Page {
  items: Listed[];
  nextCursor: string | null;
}

/** A day ahead: the job stays `scheduled`, so the tests decide what happens to it. */
const later = () => new Date(Date.now() + 86_400_000).toISOString();

/**
 * The operations API (issue 22) through the real gateway in front of the real api, bridge,
 * scheduler and a worker, on real Postgres, Kafka and the SQS emulator.
 */
describe('operations API through the gateway', () => {
  let platform: Platform;
  let demo: ConveyorClient;
  let admin: ConveyorClient;
  let db: pg.Pool;
  const events = async (jobId: string) =>
    (await db.query<{ type: string; data: Record<string, unknown> }>('SELECT type, data FROM job_events WHERE job_id = $1 ORDER BY id', [jobId])).rows;

  const page = async (client: ConveyorClient, query: string): Promise<Page> => {
    const res = await client.request(`/jobs?${query}`);
    expect(res.status, query).toBe(200);
    return (await res.json()) as Page;
  };
  const until = <T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000) => readUntil(what, read, done, timeoutMs);
  /** Every page of a search; `between` runs after each page (jobs arriving while a client pages). */
  const walk = async (client: ConveyorClient, query: string, between: () => Promise<void> = async () => undefined) => {
    const seen: Listed[] = [];
    let cursor: string | null = null;
    do {
      const next: Page = await page(client, `${query}${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...next.items);
      cursor = next.nextCursor;
      await between();
    } while (cursor);
    return seen;
  };

  beforeAll(async () => {
    platform = await startPlatform({ pools: ['default'] });
    ({ demo, admin, db } = await connectTo(platform));
  }, 240_000);
  afterAll(async () => {
    await db?.end();
    await platform?.stop();
  });

  describe('search: GET /jobs', () => {
    const submitted: Record<string, string[]> = { prod: [], prodA: [], staging: [] };
    let keyed = '';

    beforeAll(async () => {
      for (let i = 0; i < 12; i++) {
        const tags = i % 3 === 0 ? ['env:prod', 'team=a', 'env:prod'] : i % 3 === 1 ? ['env:prod'] : ['env:staging'];
        const { res, body } = await demo.submit({ type: 'noop', payload: { i }, runAt: later(), tags });
        expect(res.status).toBe(202);
        const id = String(body.jobId);
        if (tags[0] === 'env:prod') submitted.prod!.push(id);
        if (tags.includes('team=a')) submitted.prodA!.push(id);
        if (tags[0] === 'env:staging') submitted.staging!.push(id);
      }
      const { body } = await demo.submit({ type: 'noop', payload: {} }, '/jobs', { 'Idempotency-Key': 'search-me-42' });
      keyed = String(body.jobId);
      await admin.submit({ type: 'noop', payload: {}, runAt: later(), tags: ['env:prod'] });
    }, 60_000);

    it('finds jobs carrying all the given tags, shows them sorted and once each, and only the tenant\'s own', async () => {
      const prod = await walk(demo, 'tags=env:prod&limit=5');
      expect(prod.map((j) => j.jobId).sort()).toEqual([...submitted.prod!].sort());
      const both = await walk(demo, 'tags=team=a,env:prod');
      expect(both.map((j) => j.jobId).sort()).toEqual([...submitted.prodA!].sort());
      expect(both[0]!.tags).toEqual(['env:prod', 'team=a']);
      expect(both.every((j) => j.tenant === 'demo')).toBe(true);
      expect((await page(demo, 'tags=env:staging&status=scheduled&type=noop')).items).toHaveLength(submitted.staging!.length);
      expect((await page(demo, 'tags=env:staging&status=success')).items).toEqual([]);
    });

    it('finds the job of an Idempotency-Key', async () => {
      expect((await page(demo, 'idempotencyKey=search-me-42')).items.map((j) => j.jobId)).toEqual([keyed]);
      expect((await page(demo, 'idempotencyKey=never-used')).items).toEqual([]);
    });

    it('sorts both ways and bounds by creation time (from inclusive, to exclusive)', async () => {
      const newest = await walk(demo, 'tags=env:prod&limit=3');
      const oldest = await walk(demo, 'tags=env:prod&sort=createdAt&limit=3');
      expect(oldest.map((j) => j.jobId)).toEqual(newest.map((j) => j.jobId).reverse());
      const middle = oldest.slice(2, 5);
      const from = middle[0]!.createdAt;
      const to = oldest[5]!.createdAt;
      const ranged = await walk(demo, `tags=env:prod&sort=createdAt&from=${from}&to=${to}`);
      // Millisecond instants: a neighbour created in the same millisecond would also match.
      expect(ranged.map((j) => j.jobId)).toEqual(expect.arrayContaining(middle.map((j) => j.jobId)));
      expect(ranged.every((j) => j.createdAt >= from && j.createdAt < to)).toBe(true);
    });

    it('pages correctly while new jobs arrive: newest first sees none of them, oldest first sees them at the end', async () => {
      const before = (await walk(demo, 'type=noop')).map((j) => j.jobId);
      const arrived: string[] = [];
      const arrive = async () => {
        const { body } = await demo.submit({ type: 'noop', payload: {}, runAt: later(), tags: ['arrived'] });
        arrived.push(String(body.jobId));
      };
      const newest = (await walk(demo, 'type=noop&limit=4', arrive)).map((j) => j.jobId);
      expect(newest).toEqual(before);
      const oldestBefore = (await walk(demo, 'type=noop&sort=createdAt&limit=50')).map((j) => j.jobId);
      arrived.length = 0;
      const oldest = (await walk(demo, 'type=noop&sort=createdAt&limit=4', arrive)).map((j) => j.jobId);
      expect(new Set(oldest).size).toBe(oldest.length);
      expect(oldest.slice(0, oldestBefore.length)).toEqual(oldestBefore);
      // Every job that arrived before the last page was read is on it, in order.
      expect(oldest.slice(oldestBefore.length)).toEqual(arrived.slice(0, oldest.length - oldestBefore.length));
    });

    it('shows scope conveyor:admin every tenant, or the one it names', async () => {
      const all = await walk(admin, 'tags=env:prod&limit=100');
      expect(new Set(all.map((j) => j.tenant))).toEqual(new Set(['demo', 'admin']));
      const demoOnly = await walk(admin, 'tags=env:prod&tenant=demo');
      expect(demoOnly.map((j) => j.jobId).sort()).toEqual([...submitted.prod!].sort());
      const res = await demo.request('/jobs?tenant=admin');
      expect(res.status).toBe(403);
      expect((await demo.request('/jobs?tenant=demo')).status).toBe(200);
    });
  });

  describe('retry: POST /jobs/{id}/retry', () => {
    const retry = (client: ConveyorClient, jobId: string) => client.request(`/jobs/${jobId}/retry`, { method: 'POST' });

    it('re-runs a cancelled job through the dispatcher to success, recording who asked', async () => {
      const { body } = await demo.submit({ type: 'noop', payload: {}, runAt: later() });
      const jobId = String(body.jobId);
      expect((await demo.request(`/jobs/${jobId}`, { method: 'DELETE' })).status).toBe(200);
      const res = await retry(demo, jobId);
      expect(res.status).toBe(202);
      expect(res.headers.get('location')).toBe(`/jobs/${jobId}`);
      expect(await res.json()).toEqual({ jobId, statusUrl: `/jobs/${jobId}`, attempt: 1 });
      expect(await demo.waitForFinish(jobId, 30_000)).toMatchObject({ status: 'success', attempts: 1 });
      const types = (await events(jobId)).map((e) => e.type);
      expect(types).toEqual(['created', 'cancelled', 'retried', 'queued', 'started', 'succeeded']);
      expect((await events(jobId)).find((e) => e.type === 'retried')!.data).toMatchObject({ by: 'user-demo', manual: true, previous: 'cancelled', attempt: 1 });
    });

    it('gives a failed job one attempt more than it used, as a new attempt of the same job', async () => {
      const { body } = await demo.submit({ type: 'sleep', payload: { ms: 5000 }, timeoutSeconds: 1, maxAttempts: 1 });
      const jobId = String(body.jobId);
      expect(await demo.waitForFinish(jobId, 30_000)).toMatchObject({ status: 'failed', attempts: 1, maxAttempts: 1 });
      const res = await retry(demo, jobId);
      expect(res.status).toBe(202);
      expect(await res.json()).toMatchObject({ jobId, attempt: 2 });
      expect(await demo.waitForFinish(jobId, 30_000)).toMatchObject({ status: 'failed', attempts: 2, maxAttempts: 2 });
      const started = (await events(jobId)).filter((e) => e.type === 'started').map((e) => e.data.attempt);
      expect(started).toEqual([1, 2]);
    });

    it('answers 409 for a job still running or one that succeeded, and lets only one of two concurrent retries through', async () => {
      const { body } = await demo.submit({ type: 'noop', payload: {}, runAt: later() });
      const waiting = String(body.jobId);
      const running = await retry(demo, waiting);
      expect(running.status).toBe(409);
      expect(await running.json()).toMatchObject({ error: expect.stringMatching(/only a failed or cancelled job/), details: { status: 'running', phase: 'scheduled' } });
      const done = String((await demo.submit({ type: 'noop', payload: {} })).body.jobId);
      await demo.waitForFinish(done);
      expect((await retry(demo, done)).status).toBe(409);

      await demo.request(`/jobs/${waiting}`, { method: 'DELETE' });
      const both = await Promise.all([retry(demo, waiting), retry(demo, waiting)]);
      expect(both.map((r) => r.status).sort()).toEqual([202, 409]);
      expect((await events(waiting)).filter((e) => e.type === 'retried')).toHaveLength(1);
    });

    it('lets scope conveyor:admin retry another tenant\'s job', async () => {
      const { body } = await demo.submit({ type: 'noop', payload: {}, runAt: later() });
      const jobId = String(body.jobId);
      await demo.request(`/jobs/${jobId}`, { method: 'DELETE' });
      expect((await retry(admin, jobId)).status).toBe(202);
      expect((await events(jobId)).find((e) => e.type === 'retried')!.data).toMatchObject({ by: 'user-admin' });
    });
  });

  describe('batch: POST /jobs/batch', () => {
    interface Item {
      index: number;
      status: number;
      jobId: string;
      replayed?: boolean;
      error?: string;
    }
    const batch = async (jobs: unknown[]) => {
      const res = await demo.request('/jobs/batch', { method: 'POST', body: JSON.stringify({ jobs }) });
      return { res, items: ((await res.json()) as { items: Item[] }).items };
    };

    it('stores every job and answers one result per item, in order; the jobs run', async () => {
      const jobs = [
        { type: 'noop', payload: { n: 0 }, tags: ['batch:one'], idempotencyKey: 'batch-0' },
        { type: 'sleep', payload: { ms: 10 }, tags: ['batch:one'] },
        { type: 'noop', payload: { n: 2 }, tags: ['batch:one'], idempotencyKey: 'batch-2' },
      ];
      const { res, items } = await batch(jobs);
      expect(res.status).toBe(202);
      expect(items.map((i) => [i.index, i.status, i.replayed])).toEqual([
        [0, 202, false],
        [1, 202, false],
        [2, 202, false],
      ]);
      for (const item of items) expect(await demo.waitForFinish(item.jobId, 30_000)).toMatchObject({ status: 'success' });
      const found = (await page(demo, 'tags=batch:one&sort=createdAt')).items.map((j) => j.jobId);
      expect(found.sort()).toEqual(items.map((i) => i.jobId).sort());

      // Replayed item by item: the same jobs back; a key reused with another body is that item's 409.
      const again = await batch([jobs[0], { ...jobs[2], payload: { n: 'changed' } }, { type: 'noop', payload: {} }]);
      expect(again.res.status).toBe(207);
      expect(again.items[0]).toMatchObject({ index: 0, status: 202, jobId: items[0]!.jobId, replayed: true });
      expect(again.items[1]).toMatchObject({ index: 1, status: 409, jobId: items[2]!.jobId, error: expect.stringMatching(/idempotencyKey/) });
      expect(again.items[2]).toMatchObject({ index: 2, status: 202, replayed: false });
    });

    it('takes 1,000 jobs in one request', async () => {
      const jobs = Array.from({ length: 1000 }, (_, i) => ({ type: 'noop', payload: { i }, runAt: later(), tags: ['batch:thousand'], idempotencyKey: `thousand-${i}` }));
      const { res, items } = await batch(jobs);
      expect(res.status).toBe(202);
      expect(items).toHaveLength(1000);
      expect(new Set(items.map((i) => i.jobId)).size).toBe(1000);
      const { rows } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM jobs WHERE tenant = 'demo' AND 'batch:thousand' = ANY(tags)");
      expect(rows[0]!.n).toBe(1000);
    });
  });

  describe('dead letters: GET /dlq, POST /dlq/redrive (real SQS emulator)', () => {
    const sqs = createSqsClient(awsOptions);
    let dlqUrl = '';
    interface DeadLetter {
      jobId: string;
      pool: string;
      type: string;
      tenant: string;
      attempts: number;
      error: string;
      diedAt: string;
      tags: string[];
    }
    const failing = async () => {
      const { body } = await demo.submit({ type: 'sleep', payload: { ms: 4000 }, timeoutSeconds: 1, maxAttempts: 1, tags: ['dlq'] });
      return String(body.jobId);
    };
    /** The job id of every message in the default pool's DLQ (a job twice if it has two), each handed back. */
    const census = () => queueCensus(sqs, dlqUrl);
    const failedWith = (jobId: string, attempts: number) =>
      until(`job ${jobId} failed after ${attempts}`, async () => (await demo.job(jobId)).body, (b) => b.status === 'failed' && b.attempts === attempts);
    const redrive = async (body: unknown) => {
      const res = await admin.request('/dlq/redrive', { method: 'POST', body: JSON.stringify(body) });
      expect(res.status).toBe(200);
      return (await res.json()) as { matched: number; requeued: number; deletedMessages: number; sweptAll: boolean; status: string };
    };
    const jobs: string[] = [];
    /** Before these tests' jobs died: earlier tests left dead letters of their own. */
    let since = '';

    beforeAll(async () => {
      since = new Date().toISOString();
      const queue = topology(platform.namespace).queues.find((q) => q.pool.name === 'default')!.deadLetterQueue;
      dlqUrl = (await sqs.send(new GetQueueUrlCommand({ QueueName: queue }))).QueueUrl!;
      jobs.push(await failing(), await failing(), await failing());
      for (const id of jobs) await failedWith(id, 1);
      await until('the three messages in the DLQ', census, (ids) => jobs.every((id) => ids.includes(id)));
    }, 90_000);

    it('lists them for scope conveyor:admin only, newest death first, paged and filtered', async () => {
      expect((await demo.request('/dlq')).status).toBe(403);
      const first = (await (await admin.request(`/dlq?pool=default&tenant=demo&type=sleep&from=${since}&limit=2`)).json()) as { items: DeadLetter[]; nextCursor: string };
      expect(first.items).toHaveLength(2);
      const second = (await (await admin.request(`/dlq?pool=default&tenant=demo&type=sleep&from=${since}&limit=2&cursor=${first.nextCursor}`)).json()) as { items: DeadLetter[]; nextCursor: null };
      const all = [...first.items, ...second.items];
      expect(all.map((d) => d.jobId).sort()).toEqual([...jobs].sort());
      expect(all.map((d) => d.diedAt)).toEqual(all.map((d) => d.diedAt).sort().reverse());
      expect(all[0]).toMatchObject({ pool: 'default', type: 'sleep', tenant: 'demo', attempts: 1, tags: ['dlq'], error: expect.any(String) });
      const errorPart = all[0]!.error.slice(0, 8).toUpperCase();
      expect(((await (await admin.request(`/dlq?error=${encodeURIComponent(errorPart)}&tenant=demo`)).json()) as { items: unknown[] }).items.length).toBeGreaterThanOrEqual(3);
      expect(((await (await admin.request('/dlq?pool=reports')).json()) as { items: unknown[] }).items).toEqual([]);
    });

    it('redrives one: requeued, its old message swept, run again; when it dies again the DLQ holds it once', async () => {
      const [one] = jobs;
      const outcome = await redrive({ jobIds: [one] });
      expect(outcome).toMatchObject({ status: 'done', matched: 1, requeued: 1, sweptAll: true });
      expect(outcome.deletedMessages).toBe(1);
      await failedWith(one!, 2);
      const ids = await until('the redriven job dead again', census, (found) => found.includes(one!));
      expect(ids.filter((id) => id === one)).toHaveLength(1);
      for (const other of jobs.slice(1)) expect(ids.filter((id) => id === other)).toHaveLength(1);
      const retried = (await events(one!)).find((e) => e.type === 'retried')!;
      expect(retried.data).toMatchObject({ by: 'user-admin', previous: 'failed', attempt: 2, redrive: expect.any(String) });
    });

    it('redrives by filter, once per job however many redrives race', async () => {
      const filter = { pool: 'default', tenant: 'demo', type: 'sleep', from: since };
      const [a, b] = await Promise.all([redrive({ filter }), redrive({ filter })]);
      expect(a.requeued + b.requeued).toBe(3);
      await Promise.all([failedWith(jobs[0]!, 3), failedWith(jobs[1]!, 2), failedWith(jobs[2]!, 2)]);
      const ids = await until('every job dead again', census, (found) => jobs.every((id) => found.includes(id)));
      for (const id of jobs) expect(ids.filter((x) => x === id), id).toHaveLength(1);
    }, 90_000);
  });

  describe('pools: GET /pools, GET /pools/{name}', () => {
    interface PoolStatus {
      name: string;
      queue: { waiting: number; inFlight: number; delayed: number; deadLetters: number } | null;
      jobs: { waiting: number; processing: number };
      oldestWaitingSeconds: number | null;
      throughput: { perSecond1m: number; perSecond5m: number };
      estimatedDrainSeconds: number | null;
    }
    const pool = async (client: ConveyorClient, name: string) => {
      const res = await client.request(`/pools/${name}`);
      expect(res.status).toBe(200);
      return (await res.json()) as PoolStatus;
    };

    it('counts a tenant\'s own jobs, and the queues for conveyor:admin only', async () => {
      // No worker reads the reports pool here: its jobs wait.
      for (let i = 0; i < 2; i++) expect((await demo.submit({ type: 'report.generate', payload: {} })).res.status).toBe(202);
      const mine = await pool(demo, 'reports');
      expect(mine).toMatchObject({ name: 'reports', queue: null, jobs: { waiting: 2, processing: 0 }, estimatedDrainSeconds: null });
      expect(mine.oldestWaitingSeconds).toBeGreaterThanOrEqual(0);
      const listed = (await (await demo.request('/pools')).json()) as { pools: PoolStatus[] };
      expect(listed.pools.map((p) => p.name)).toEqual(['default', 'reports']);
      expect(listed.pools.find((p) => p.name === 'default')!.throughput.perSecond5m).toBeGreaterThan(0);

      const seen = await until('the reports messages in SQS', () => pool(admin, 'reports'), (p) => (p.queue?.waiting ?? 0) + (p.queue?.inFlight ?? 0) >= 2);
      expect(seen.jobs.waiting).toBeGreaterThanOrEqual(2);
      // The dead letters the DLQ tests left in the default pool's DLQ.
      expect((await pool(admin, 'default')).queue!.deadLetters).toBeGreaterThanOrEqual(3);
      expect((await demo.request('/pools/nope')).status).toBe(404);
    });
  });
});


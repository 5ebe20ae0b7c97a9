import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, createPool, Registry, type Pool } from '@conveyor/platform';
import { cancelJob, createJob, createOutboxSignal, migrateJobsSchema, type OutboxSignal, type Queryable } from '@conveyor/jobs';
import { OutboxListener } from '../src/events/index.js';
import { JobWaiter } from '../src/wait/job-waiter.js';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.js';

/**
 * The waits behind Prefer: wait, on real Postgres and its LISTEN/NOTIFY: woken by the job events
 * announcement (the safety wake-up is set to a minute, so nothing else could wake them in time),
 * one query per wake-up for all waiters, bounded.
 */
describe('JobWaiter (real Postgres, LISTEN/NOTIFY)', () => {
  const logger = createLogger({ service: 'test', level: 'silent' });
  let db: TestDatabase;
  let pool: Pool;
  let outbox: OutboxSignal;
  let events: OutboxListener;
  let queries = 0;
  /** The pool, counting the waiter's statements. */
  let counted: Queryable;
  const newJob = async () => (await createJob(pool, { tenant: 'acme', owner: 'u1', type: 'noop', payload: {} })).jobId;
  const end = (jobId: string) => cancelJob(outbox.track(pool), jobId, 'acme');
  const waiter = (maxWaiters = 100) => new JobWaiter({ db: counted, events, maxWaiters, logger });

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 6 });
    await migrateJobsSchema(pool);
    outbox = createOutboxSignal({ pool, logger });
    events = new OutboxListener({ pool, logger, safetyPollMs: 60_000 });
    counted = {
      query: ((text: string, values?: unknown[]) => {
        queries += 1;
        return pool.query(text, values);
      }) as Queryable['query'],
    };
    // Connected before the tests time anything: the first subscriber starts the LISTEN.
    const connected = new Promise<void>((resolve) => {
      const off = events.subscribe(() => {
        off();
        resolve();
      });
    });
    await connected;
  });
  afterAll(async () => {
    outbox?.stop();
    await events?.close();
    await pool?.end();
    await db?.drop();
  });

  it('wakes a wait when its job ends, by the announcement, not by polling', async () => {
    const jobId = await newJob();
    const jobs = waiter();
    queries = 0;
    const started = Date.now();
    const outcome = jobs.wait(jobId, 20_000);
    await new Promise((r) => setTimeout(r, 1_000));
    // One look after subscribing, and none while nothing happens.
    expect(queries).toBe(1);
    await end(jobId);
    expect(await outcome).toBe('ended');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(jobs.size).toBe(0);
  });

  it('sees a job that ended before the wait began (the insert-to-subscribe race)', async () => {
    const jobId = await newJob();
    await end(jobId);
    const started = Date.now();
    expect(await waiter().wait(jobId, 20_000)).toBe('ended');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('times out, and stops when the client leaves', async () => {
    const jobs = waiter();
    const jobId = await newJob();
    const started = Date.now();
    expect(await jobs.wait(jobId, 700)).toBe('timeout');
    expect(Date.now() - started).toBeGreaterThanOrEqual(690);
    const left = new AbortController();
    const leaving = jobs.wait(jobId, 20_000, left.signal);
    left.abort();
    expect(await leaving).toBe('timeout');
    expect(jobs.size).toBe(0);
  });

  it('checks every waiting job with one query per wake-up, and answers busy over the bound (counted)', async () => {
    const registry = new Registry();
    const jobs = new JobWaiter({ db: counted, events, maxWaiters: 20, logger, registry });
    const ids = await Promise.all(Array.from({ length: 20 }, () => newJob()));
    const waits = ids.map((id) => jobs.wait(id, 20_000));
    expect(await jobs.wait(await newJob(), 20_000)).toBe('busy');
    expect(await registry.getSingleMetricAsString('conveyor_prefer_wait_waiting')).toContain('conveyor_prefer_wait_waiting 20');
    await new Promise((r) => setTimeout(r, 300));
    queries = 0;
    await Promise.all(ids.map((id) => end(id)));
    expect(await Promise.all(waits)).toEqual(ids.map(() => 'ended'));
    // 20 jobs ended: far fewer queries than jobs (NOTIFYs are folded, each wake-up is one query).
    expect(queries).toBeLessThanOrEqual(5);
    const again = await newJob();
    await end(again);
    expect(await jobs.wait(again, 5_000)).toBe('ended');
    const totals = await registry.getSingleMetricAsString('conveyor_prefer_wait_total');
    expect(totals).toContain('conveyor_prefer_wait_total{outcome="busy"} 1');
    expect(totals).toContain('conveyor_prefer_wait_total{outcome="ended"} 21');
  });

  it('answers every wait with timeout on close, and takes no more', async () => {
    const jobs = waiter();
    const pending = jobs.wait(await newJob(), 20_000);
    jobs.close();
    expect(await pending).toBe('timeout');
    expect(await jobs.wait(await newJob(), 20_000)).toBe('busy');
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, createPool, type Pool } from '@conveyor/platform';
import { createJob, createOutboxSignal, migrateJobsSchema, startListener } from '@conveyor/jobs';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.js';
import { infra } from '../../../test/support/infra.js';
import { startService, type RunningService } from '../../../test/support/service-process.js';
import { waitFor } from '../../../test/support/wait.js';
import { dispatchDueJobs, peekNextDue } from '../src/due-jobs.repo.js';
import { startDispatcher, type Dispatcher } from '../src/dispatcher.js';

const logger = createLogger({ service: 'scheduler-test', level: 'silent' });
const base = { tenant: 'demo', owner: 'user-1', type: 'noop', payload: {} };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('delayed-job dispatcher against real Postgres', () => {
  let db: TestDatabase;
  let pool: Pool;
  let dispatcher: Dispatcher | undefined;
  let listener: ReturnType<typeof startListener> | undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 10 });
    await migrateJobsSchema(pool);
  });
  afterAll(async () => {
    await dispatcher?.stop();
    await listener?.stop();
    await pool.end();
    await db.drop();
  });

  async function startLoop(safetyIntervalMs: number, leadMs = 0): Promise<void> {
    await dispatcher?.stop();
    await listener?.stop();
    const d = startDispatcher({
      claim: () => dispatchDueJobs(pool, 100, leadMs),
      peek: () => peekNextDue(pool, leadMs),
      batchSize: 100,
      safetyIntervalMs,
      logger,
    });
    dispatcher = d;
    listener = startListener({ pool, channel: 'conveyor_scheduled', logger, onWake: () => d.notify() });
  }

  it('queues delayed jobs in run_at order, never before run_at, with a queued event each', async () => {
    await startLoop(60_000);
    // A lead long enough that a slow machine still inserts all 20 before the first is due.
    const start = Date.now() + 3_000;
    // Inserted in reverse order so insertion order cannot explain the dispatch order.
    const ids: string[] = [];
    for (let i = 19; i >= 0; i--) {
      const outcome = await createJob(pool, { ...base, runAt: new Date(start + i * 60) });
      expect(outcome).toMatchObject({ status: 'scheduled' });
      ids.push(outcome.jobId);
    }
    await waitFor(
      'all 20 jobs queued',
      async () => {
        const { rows } = await pool.query(`SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1) AND status = 'queued'`, [ids]);
        return rows[0].n === ids.length ? true : undefined;
      },
      10_000,
    );
    const { rows } = await pool.query<{ id: string; run_at: Date; event_id: string; event_at: Date; dispatched_at: string; published_at: Date | null }>(
      `SELECT j.id, j.run_at, j.published_at, e.id AS event_id, e.created_at AS event_at, e.data->>'dispatchedAt' AS dispatched_at
         FROM jobs j JOIN job_events e ON e.job_id = j.id AND e.type = 'queued'
        WHERE j.id = ANY($1) ORDER BY e.id`,
      [ids],
    );
    expect(rows).toHaveLength(20);
    const runAts = rows.map((r) => r.run_at.getTime());
    expect(runAts).toEqual([...runAts].sort((a, b) => a - b));
    for (const row of rows) {
      expect(row.published_at).toBeNull();
      expect(row.event_at.getTime()).toBeGreaterThanOrEqual(row.run_at.getTime());
      expect(new Date(row.dispatched_at).getTime()).toBeGreaterThanOrEqual(row.run_at.getTime());
    }
  });

  it('re-arms on LISTEN: an earlier job inserted while the timer waits for a later one is dispatched on time', async () => {
    await startLoop(60_000);
    const later = await createJob(pool, { ...base, runAt: new Date(Date.now() + 30_000) });
    await sleep(300); // the loop has armed its timer for `later`
    const runAt = new Date(Date.now() + 1_500);
    const earlier = await createJob(pool, { ...base, runAt });
    expect(earlier).toMatchObject({ status: 'scheduled' });
    const queuedAt = await waitFor(
      'the earlier job queued',
      async () => {
        const { rows } = await pool.query<{ created_at: Date }>(`SELECT created_at FROM job_events WHERE job_id = $1 AND type = 'queued'`, [earlier.jobId]);
        return rows[0]?.created_at;
      },
      5_000,
    );
    // The safety interval is a minute and the armed timer points 30 s ahead: only the
    // notification can explain a dispatch within a few seconds of runAt.
    expect(queuedAt.getTime()).toBeGreaterThanOrEqual(runAt.getTime());
    expect(queuedAt.getTime() - runAt.getTime()).toBeLessThan(5_000);
    const { rows } = await pool.query('SELECT status FROM jobs WHERE id = $1', [later.jobId]);
    expect(rows[0].status).toBe('scheduled');
    await pool.query(`UPDATE jobs SET status = 'cancelled' WHERE id = $1`, [later.jobId]);
  });

  it('with a lead, dispatches each job that long before its run_at (by the database clock), not sooner', async () => {
    const leadMs = 1_500;
    await startLoop(60_000, leadMs);
    const runAts = [4_000, 4_300, 9_000].map((ms) => new Date(Date.now() + ms));
    const jobs = await Promise.all(runAts.map((runAt) => createJob(pool, { ...base, runAt })));
    // The third is due after the others: the timer is re-armed for it after their round.
    const rows = await waitFor(
      'three jobs dispatched',
      async () => {
        const { rows } = await pool.query<{ run_at: Date; dispatched_at: string; status: string }>(
          `SELECT j.run_at, j.status, e.data->>'dispatchedAt' AS dispatched_at
             FROM jobs j JOIN job_events e ON e.job_id = j.id AND e.type = 'queued'
            WHERE j.id = ANY($1) ORDER BY j.run_at`,
          [jobs.map((j) => j.jobId)],
        );
        return rows.length === 3 ? rows : undefined;
      },
      15_000,
    );
    for (const row of rows) {
      const ahead = row.run_at.getTime() - new Date(row.dispatched_at).getTime();
      expect(row.status).toBe('queued');
      expect(ahead, 'never dispatched before run_at minus the lead').toBeLessThanOrEqual(leadMs);
      expect(ahead, 'dispatched ahead of run_at').toBeGreaterThan(0);
    }
  });

  it('dispatches a failed job waiting for its retry at its run_at, woken by the worker\'s signal, with a queued event saying so', async () => {
    await startLoop(60_000);
    const later = await createJob(pool, { ...base, runAt: new Date(Date.now() + 30_000) });
    const { jobId } = await createJob(pool, base);
    await sleep(300); // the loop has armed its timer for `later`
    // As a worker leaves a failed attempt (retryJob): retrying, unpublished, next attempt at run_at.
    const { rows: stored } = await pool.query<{ run_at: Date }>(
      `UPDATE jobs SET status = 'retrying', attempts = 1, published_at = NULL, run_at = now() + interval '1500 milliseconds'
        WHERE id = $1 RETURNING run_at`,
      [jobId],
    );
    const signal = createOutboxSignal({ pool, logger });
    signal.due();
    const queued = await waitFor(
      'the retry dispatched',
      async () => {
        const { rows } = await pool.query<{ created_at: Date; data: Record<string, unknown> }>(
          `SELECT created_at, data FROM job_events WHERE job_id = $1 AND type = 'queued'`,
          [jobId],
        );
        return rows[0];
      },
      5_000,
    );
    signal.stop();
    // The timer pointed 30 s ahead and the safety interval is a minute: only the signal explains this.
    expect(queued.created_at.getTime()).toBeGreaterThanOrEqual(stored[0]!.run_at.getTime());
    expect(queued.created_at.getTime() - stored[0]!.run_at.getTime()).toBeLessThan(5_000);
    expect(queued.data).toMatchObject({ reason: 'retry' });
    const { rows } = await pool.query('SELECT status, published_at, attempts FROM jobs WHERE id = $1', [jobId]);
    expect(rows[0]).toMatchObject({ status: 'queued', published_at: null, attempts: 1 });
    await pool.query(`UPDATE jobs SET status = 'cancelled' WHERE id = $1`, [later.jobId]);
  });

  it('does not dispatch a scheduled job whose cancellation was requested', async () => {
    await startLoop(60_000);
    const runAt = new Date(Date.now() + 1_500);
    const job = await createJob(pool, { ...base, runAt });
    await pool.query('UPDATE jobs SET cancel_requested = true WHERE id = $1', [job.jobId]);
    expect(Date.now(), 'cancellation recorded before the job was due').toBeLessThan(runAt.getTime());
    await sleep(runAt.getTime() - Date.now() + 1_000);
    const { rows } = await pool.query('SELECT status FROM jobs WHERE id = $1', [job.jobId]);
    expect(rows[0].status).toBe('scheduled');
  });
});

describe('two scheduler processes against one database', () => {
  let db: TestDatabase;
  let pool: Pool;
  const services: RunningService[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 10 });
    await migrateJobsSchema(pool);
  });
  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop('SIGKILL')));
    await pool.end();
    await db.drop();
  });

  it('dispatch each of 500 due jobs exactly once, none before its run_at minus the lead', async () => {
    const env = {
      DATABASE_URL: db.url,
      KAFKA_BROKERS: infra.kafkaBrokers.join(','),
      DISPATCH_BATCH_SIZE: '20',
      DISPATCH_LEAD_MS: '1000',
      RECONCILE_INTERVAL_MS: '60000',
    };
    services.push(...(await Promise.all([startService('scheduler', env), startService('scheduler', env)])));
    const ids: string[] = [];
    for (let i = 0; i < 500; i += 50) {
      // Due times relative to each batch's insertion, so a slow machine cannot make them past-due.
      const start = Date.now() + 3_000;
      const batch = await Promise.all(
        Array.from({ length: 50 }, (_, k) => createJob(pool, { ...base, runAt: new Date(start + k * 40) })),
      );
      expect(batch.every((o) => o.kind === 'created' && o.status === 'scheduled')).toBe(true);
      ids.push(...batch.map((o) => o.jobId));
    }
    await waitFor(
      'all 500 jobs queued',
      async () => {
        const { rows } = await pool.query(`SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1) AND status = 'queued'`, [ids]);
        return rows[0].n === ids.length ? true : undefined;
      },
      20_000,
    );
    await sleep(500);
    const { rows } = await pool.query<{ n: number; early: number }>(
      `SELECT count(e.id)::int AS n, count(*) FILTER (WHERE e.created_at < j.run_at - interval '1 second')::int AS early
         FROM jobs j LEFT JOIN job_events e ON e.job_id = j.id AND e.type = 'queued'
        WHERE j.id = ANY($1) GROUP BY j.id`,
      [ids],
    );
    expect(rows).toHaveLength(500);
    expect(rows.every((r) => r.n === 1 && r.early === 0)).toBe(true);
    const metrics = await Promise.all(services.map(async (s) => (await fetch(`${s.url}/metrics`)).text()));
    const counts = metrics.map((text) => Number(/^conveyor_scheduler_dispatched_total\{[^}]*\} (\d+)/m.exec(text)?.[1] ?? 0));
    expect(counts[0]! + counts[1]!).toBe(500);
    for (const s of services) await s.stopCleanly();
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, createPool, Registry, type Pool } from '@conveyor/platform';
import { createJob, migrateJobsSchema } from '@conveyor/jobs';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.js';
import { createSchedulerMetrics } from '../src/metrics.js';
import { reconcileOnce } from '../src/reconciler.js';

const logger = createLogger({ service: 'scheduler-test', level: 'silent' });
const base = { tenant: 'demo', owner: 'user-1', type: 'noop', payload: {} };

describe('reconciler against real Postgres', () => {
  let db: TestDatabase;
  let pool: Pool;

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 5 });
    await migrateJobsSchema(pool);
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  async function job(state: string): Promise<string> {
    const { jobId } = await createJob(pool, base);
    await pool.query(`UPDATE jobs SET ${state} WHERE id = $1`, [jobId]);
    return jobId;
  }

  const row = async (id: string) => (await pool.query('SELECT * FROM jobs WHERE id = $1', [id])).rows[0];
  const events = async (id: string) =>
    (await pool.query<{ type: string; data: Record<string, unknown> }>('SELECT type, data FROM job_events WHERE job_id = $1 ORDER BY id', [id])).rows;

  it('re-drives stale processing jobs, leaves waiting jobs alone however long they wait, and counts each by reason', async () => {
    const stale = await job(`status = 'processing', attempts = 1, locked_by = 'worker-a', published_at = now() - interval '10 minutes', heartbeat_at = now() - interval '5 minutes', started_at = now() - interval '6 minutes'`);
    const exhausted = await job(`status = 'processing', attempts = 3, max_attempts = 3, locked_by = 'worker-b', heartbeat_at = now() - interval '5 minutes'`);
    const cancelling = await job(`status = 'processing', attempts = 1, cancel_requested = true, heartbeat_at = now() - interval '5 minutes'`);
    const alive = await job(`status = 'processing', attempts = 1, heartbeat_at = now()`);
    // Waiting for an hour with no worker: still in its queue as far as anyone can tell. Only a
    // queue short of messages gets anything re-sent (lost-messages.test.ts); age alone never does.
    const waiting = await job(`published_at = now() - interval '1 hour', updated_at = now() - interval '1 hour'`);
    const waitingRetry = await job(`status = 'retrying', attempts = 1, published_at = now() - interval '1 hour', updated_at = now() - interval '1 hour'`);

    const registry = new Registry();
    const metrics = createSchedulerMetrics(registry);
    const summary = await reconcileOnce({ db: pool, logger, metrics, batchSize: 100, processingLeaseSeconds: 60 });
    expect(summary).toMatchObject({ requeued: 1, finished: 2, redriven: 0 });

    expect(await row(stale)).toMatchObject({ status: 'queued', published_at: null, locked_by: null, heartbeat_at: null });
    expect((await events(stale)).at(-1)).toEqual({ type: 'retried', data: { reason: 'heartbeat_expired', worker: 'worker-a', attempts: 1 } });
    expect(await row(exhausted)).toMatchObject({ status: 'failed', error: expect.stringContaining('heartbeat') });
    expect(await row(exhausted)).toHaveProperty('finished_at', expect.any(Date));
    expect((await events(exhausted)).at(-1)?.type).toBe('failed');
    expect(await row(cancelling)).toMatchObject({ status: 'cancelled' });
    expect((await events(cancelling)).at(-1)?.type).toBe('cancelled');
    expect(await row(alive)).toMatchObject({ status: 'processing' });
    expect((await row(waiting)).published_at).not.toBeNull();
    expect(await row(waitingRetry)).toMatchObject({ status: 'retrying' });
    expect((await row(waitingRetry)).published_at).not.toBeNull();

    const text = await registry.metrics();
    expect(text).toMatch(/conveyor_scheduler_redrives_total\{reason="heartbeat_expired"\} 1/);
    expect(text).toMatch(/conveyor_scheduler_redrives_total\{reason="message_lost"\} 0/);
    expect(text).toMatch(/conveyor_scheduler_stale_jobs_finished_total\{status="failed"\} 1/);
    // The re-driven job now waits for the relay: it is the backlog the gauge reports.
    expect(summary.unpublished).toBeGreaterThanOrEqual(1);

    const again = await reconcileOnce({ db: pool, logger, metrics, batchSize: 100, processingLeaseSeconds: 60 });
    expect(again).toMatchObject({ requeued: 0, finished: 0, redriven: 0 });
  });

  it('works in bounded batches', async () => {
    const ids = await Promise.all(
      Array.from({ length: 5 }, () => job(`status = 'processing', attempts = 1, heartbeat_at = now() - interval '1 hour'`)),
    );
    const metrics = createSchedulerMetrics(new Registry());
    const first = await reconcileOnce({ db: pool, logger, metrics, batchSize: 2, processingLeaseSeconds: 60 });
    expect(first.requeued).toBe(2);
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1) AND status = 'processing'`, [ids]);
    expect(rows[0].n).toBe(3);
  });
});

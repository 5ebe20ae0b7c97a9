import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { createPool, createSqsClient, type Pool } from '@conveyor/platform';
import { migrateJobsSchema } from '@conveyor/jobs';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.js';
import { awsOptions } from '../../../test/support/infra.js';
import type { RunningService } from '../../../test/support/service-process.js';
import {
  createPoolQueues,
  deliver,
  drainQueue,
  enqueue,
  eventsOf,
  jobRow,
  queueDepth,
  startWorker,
  storeJob,
  topology,
  uniqueNamespace,
  waitFor,
  waitForStatus,
  type PoolQueues,
} from '../../../packages/worker-sdk/test/support.js';

describe('worker against real Postgres and SQS', () => {
  let db: TestDatabase;
  let pool: Pool;
  let sqs: SQSClient;
  let queues: PoolQueues;
  let worker: RunningService;
  const namespace = uniqueNamespace('wk');

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 5 });
    await migrateJobsSchema(pool);
    sqs = createSqsClient(awsOptions);
    queues = await createPoolQueues(sqs, topology(namespace));
    worker = await startWorker({ databaseUrl: db.url, namespace, extra: { WORKER_CONCURRENCY: '4' } });
  });
  afterAll(async () => {
    await worker?.stop('SIGKILL');
    sqs?.destroy();
    await pool?.end();
    await db?.drop();
  });

  it('runs noop and sleep jobs to success with their results, events and progress', async () => {
    const noop = await enqueue(pool, sqs, queues.queueUrl, { type: 'noop', payload: {} });
    const sleep = await enqueue(pool, sqs, queues.queueUrl, { type: 'sleep', payload: { ms: 1200 } });
    expect(await waitForStatus(pool, noop, 'success')).toMatchObject({ attempts: 1, result: { json: { ok: true } }, result_key: null });
    expect(await waitForStatus(pool, sleep, 'success')).toMatchObject({ attempts: 1, result: { json: { sleptMs: 1200 } }, progress: 1 });
    const types = (await eventsOf(pool, sleep)).map((e) => e.type);
    expect(types[0]).toBe('created');
    expect(types[1]).toBe('started');
    expect(types.filter((t) => t === 'progress').length).toBe(1);
    expect(types.at(-1)).toBe('succeeded');
    const { rows } = await pool.query('SELECT locked_by, started_at, finished_at FROM jobs WHERE id = $1', [sleep]);
    expect(rows[0].locked_by).toBeNull();
    expect(rows[0].finished_at.getTime() - rows[0].started_at.getTime()).toBeGreaterThanOrEqual(1_100);

    const metrics = await (await fetch(`${worker.url}/metrics`)).text();
    expect(metrics).toMatch(/conveyor_jobs_succeeded_total\{type="sleep",service="worker"\} 1/);
    expect(metrics).toMatch(/conveyor_jobs_enqueue_to_start_seconds_count\{service="worker",type="noop"\} 1/);
    expect(metrics).toMatch(/^conveyor_worker_concurrency\{[^}]*service="worker"[^}]*\} 4$/m);
  });

  it('runs a job once when its message is delivered twice', async () => {
    const stored = await storeJob(pool, { type: 'sleep', payload: { ms: 1500 } });
    await deliver(sqs, queues.queueUrl, stored);
    await deliver(sqs, queues.queueUrl, stored);
    await waitForStatus(pool, stored.jobId, 'success');
    // The second copy is acknowledged while the first runs, or after it finished: never run.
    await waitFor('both copies gone', async () => (await drainQueue(sqs, queues.queueUrl, 0)).length === 0 && true);
    await new Promise((r) => setTimeout(r, 1_000));
    const events = (await eventsOf(pool, stored.jobId)).map((e) => e.type);
    expect(events.filter((t) => t === 'started')).toHaveLength(1);
    expect(events.filter((t) => t === 'succeeded')).toHaveLength(1);
    expect((await jobRow(pool, stored.jobId)).attempts).toBe(1);
  });

  it('starts a delayed job dispatched ahead at its run_at, never before it by Postgres\' clock, with or without its run_at attribute', async () => {
    // As the scheduler leaves a job dispatched ahead: queued and published, run_at still to come.
    const dispatchAhead = async () => {
      const runAt = new Date(Date.now() + 2_500);
      const stored = await storeJob(pool, { type: 'noop', payload: {}, runAt });
      await pool.query(`UPDATE jobs SET status = 'queued' WHERE id = $1 AND status = 'scheduled'`, [stored.jobId]);
      return { ...stored, runAt };
    };
    const held = await dispatchAhead();
    await deliver(sqs, queues.queueUrl, held);
    // Without the attribute the worker cannot know: its claim refuses the job and the message comes back when due.
    const unmarked = await dispatchAhead();
    await deliver(sqs, queues.queueUrl, { body: unmarked.body, type: unmarked.type });

    for (const job of [held, unmarked]) {
      await waitForStatus(pool, job.jobId, 'success', 15_000);
      const { rows } = await pool.query<{ started_at: Date; run_at: Date; attempts: number }>('SELECT started_at, run_at, attempts FROM jobs WHERE id = $1', [job.jobId]);
      expect(rows[0]!.started_at.getTime()).toBeGreaterThanOrEqual(rows[0]!.run_at.getTime());
      expect(rows[0]!.attempts).toBe(1);
      expect((await eventsOf(pool, job.jobId)).filter((e) => e.type === 'started')).toHaveLength(1);
    }
    const metrics = await (await fetch(`${worker.url}/metrics`)).text();
    expect(metrics).toMatch(/conveyor_jobs_start_lateness_seconds_count\{service="worker",type="noop"\} 2/);
    expect(metrics).toMatch(/^conveyor_worker_held_messages\{[^}]*\} 0$/m);
  });

  it('hands each failed attempt back to Postgres with its run time and deletes its message; the next runs from a fresh message no earlier; the last is dead-lettered', async () => {
    const stored = await storeJob(pool, { type: 'sleep', payload: { ms: 5_000 }, timeoutSeconds: 1, maxAttempts: 3 });
    await deliver(sqs, queues.queueUrl, stored);
    for (let attempt = 1; attempt < 3; attempt++) {
      await waitForStatus(pool, stored.jobId, 'retrying', 15_000);
      const { rows } = await pool.query<{ attempts: number; run_at: Date; published_at: Date | null }>(
        'SELECT attempts, run_at, published_at FROM jobs WHERE id = $1',
        [stored.jobId],
      );
      const row = rows[0]!;
      expect(row.attempts).toBe(attempt);
      // Unpublished with a run time: the scheduler's dispatcher owns it until it is due.
      expect(row.published_at).toBeNull();
      const retried = (await eventsOf(pool, stored.jobId)).filter((e) => e.type === 'retried').at(-1)!;
      expect(new Date(String(retried.data.runAt)).getTime()).toBe(row.run_at.getTime());
      expect(row.run_at.getTime() - retried.created_at.getTime()).toBeCloseTo(Number(retried.data.delaySeconds) * 1000, -2);
      // The attempt's message is gone: the job waits in Postgres, not in an invisible message.
      await waitFor('the failed attempt\'s message deleted', async () => {
        const depth = await queueDepth(sqs, queues.queueUrl);
        return depth.visible + depth.inFlight === 0;
      });
      // As the dispatcher and the relay do once it is due (or up to their lead before): queued,
      // published, and a fresh message carrying its run time.
      await pool.query(`UPDATE jobs SET status = 'queued', published_at = now() WHERE id = $1`, [stored.jobId]);
      await deliver(sqs, queues.queueUrl, { ...stored, runAt: row.run_at });
    }
    const row = await waitForStatus(pool, stored.jobId, 'failed', 15_000);
    expect(row).toMatchObject({ attempts: 3, error: 'gave up after 3 attempts: timed out after 1 s' });
    const events = await eventsOf(pool, stored.jobId);
    expect(events.map((e) => e.type).filter((t) => t !== 'progress')).toEqual([
      'created', 'started', 'retried', 'started', 'retried', 'started', 'failed',
    ]);
    expect(events.at(-1)!.data).toMatchObject({ attempt: 3, reason: 'attempts exhausted' });
    // Each attempt starts at or after the run time its retry announced (the worker holds the message).
    for (let i = 0; i < events.length; i++) {
      if (events[i]!.type !== 'retried') continue;
      const next = events.slice(i + 1).find((e) => e.type === 'started')!;
      expect(next.created_at.getTime()).toBeGreaterThanOrEqual(new Date(String(events[i]!.data.runAt)).getTime());
    }
    const dead = await waitFor('message in DLQ', async () => {
      const messages = await drainQueue(sqs, queues.dlqUrl, 1);
      return messages.find((m) => JSON.parse(m.Body!).jobId === stored.jobId);
    });
    expect(dead.MessageAttributes?.type?.StringValue).toBe('sleep');
  });

  it('drops the leftover message of an attempt whose retry was stored (its worker stopped before deleting it), and runs it once due', async () => {
    const stored = await storeJob(pool, { type: 'noop', payload: {} });
    await pool.query(
      `UPDATE jobs SET status = 'retrying', attempts = 1, error = 'boom', run_at = now() + interval '1 hour', published_at = NULL WHERE id = $1`,
      [stored.jobId],
    );
    const duplicates = async () => {
      const metrics = await (await fetch(`${worker.url}/metrics`)).text();
      return Number(/conveyor_worker_duplicate_deliveries_total\{type="noop",service="worker"\} (\d+)/.exec(metrics)?.[1] ?? 0);
    };
    const before = await duplicates();
    await deliver(sqs, queues.queueUrl, stored);
    await waitFor('the early copy acknowledged', async () => (await duplicates()) === before + 1);
    await waitFor('the early copy deleted', async () => {
      const depth = await queueDepth(sqs, queues.queueUrl);
      return depth.visible + depth.inFlight === 0;
    });
    expect(await jobRow(pool, stored.jobId)).toMatchObject({ status: 'retrying', attempts: 1 });
    expect((await eventsOf(pool, stored.jobId)).map((e) => e.type)).toEqual(['created']);

    // Due, and the dispatcher has not sent it yet: a leftover message runs the attempt, once.
    await pool.query(`UPDATE jobs SET run_at = now() - interval '1 second' WHERE id = $1`, [stored.jobId]);
    await deliver(sqs, queues.queueUrl, stored);
    expect(await waitForStatus(pool, stored.jobId, 'success')).toMatchObject({ attempts: 2 });
  });

  it('fails a job whose worker died during its last attempt and dead-letters the message, without a further attempt', async () => {
    const stored = await storeJob(pool, { type: 'noop', payload: {}, maxAttempts: 2 });
    // What a worker killed during attempt 2 of 2 leaves: processing, its heartbeat long stopped.
    await pool.query(
      `UPDATE jobs SET status = 'processing', attempts = 2, locked_by = 'dead-worker', started_at = now() - interval '1 hour',
                       heartbeat_at = now() - interval '1 hour' WHERE id = $1`,
      [stored.jobId],
    );
    await deliver(sqs, queues.queueUrl, stored);
    const row = await waitForStatus(pool, stored.jobId, 'failed');
    expect(row).toMatchObject({ attempts: 2, error: 'worker stopped heartbeating and attempts are exhausted' });
    const events = await eventsOf(pool, stored.jobId);
    expect(events.map((e) => e.type)).toEqual(['created', 'failed']);
    expect(events[1]!.data).toMatchObject({ attempt: 2, reason: 'attempts exhausted' });
    const dead = await waitFor('message in DLQ', async () => {
      const messages = await drainQueue(sqs, queues.dlqUrl, 1);
      return messages.find((m) => JSON.parse(m.Body!).jobId === stored.jobId);
    });
    expect(dead).toBeTruthy();
  });

  it('fails at once on a permanent error and dead-letters the message', async () => {
    const reservationId = randomUUID();
    const stored = await storeJob(pool, { type: 'points.grant', payload: { reservationId, userId: 'u-perm', amount: 10 }, maxAttempts: 5 });
    await pool.query(
      `INSERT INTO points_reservations (id, tenant, user_id, amount, execute_at, job_id) VALUES ($1, 'demo', 'u-perm', 7, now(), $2)`,
      [reservationId, stored.jobId],
    );
    await deliver(sqs, queues.queueUrl, stored);
    const row = await waitForStatus(pool, stored.jobId, 'failed');
    expect(row.attempts).toBe(1);
    expect(row.error).toMatch(/does not match reservation/);
    const dlq = await drainQueue(sqs, queues.dlqUrl, 2);
    expect(dlq.some((m) => JSON.parse(m.Body!).jobId === stored.jobId)).toBe(true);
    const { rows } = await pool.query('SELECT count(*)::int AS n FROM points_transactions WHERE reservation_id = $1', [reservationId]);
    expect(rows[0].n).toBe(0);
  });

  it('skips a job cancelled while queued', async () => {
    const stored = await storeJob(pool, { type: 'sleep', payload: { ms: 100 } });
    await pool.query('UPDATE jobs SET cancel_requested = true WHERE id = $1', [stored.jobId]);
    await deliver(sqs, queues.queueUrl, stored);
    await waitForStatus(pool, stored.jobId, 'cancelled');
    const types = (await eventsOf(pool, stored.jobId)).map((e) => e.type);
    expect(types).toEqual(['created', 'cancelled']);
    expect((await jobRow(pool, stored.jobId)).attempts).toBe(0);
  });

  it('aborts a running job at its next heartbeat when its cancellation was not announced (the fallback), and ends it cancelled', async () => {
    const jobId = await enqueue(pool, sqs, queues.queueUrl, { type: 'sleep', payload: { ms: 20_000 } });
    await waitForStatus(pool, jobId, 'processing');
    const requested = Date.now();
    await pool.query('UPDATE jobs SET cancel_requested = true WHERE id = $1', [jobId]);
    await waitForStatus(pool, jobId, 'cancelled', 10_000);
    expect(Date.now() - requested).toBeLessThan(5_000);
    const types = (await eventsOf(pool, jobId)).map((e) => e.type).filter((t) => t !== 'progress');
    expect(types).toEqual(['created', 'started', 'cancelled']);
    const metrics = await (await fetch(`${worker.url}/metrics`)).text();
    expect(metrics).toMatch(/conveyor_jobs_cancelled_total\{type="sleep",service="worker"\} 2/);
  });

  it('moves poison messages to the DLQ, marks their jobs failed, and keeps running jobs', async () => {
    const send = (body: string) => sqs.send(new SendMessageCommand({ QueueUrl: queues.queueUrl, MessageBody: body }));
    await send('not json at all');
    await send('{"v":1,"jobId":"nope"}');
    await send(JSON.stringify({ v: 1, jobId: randomUUID(), type: 'noop', tenant: 'demo', payload: {}, createdAt: new Date().toISOString() }));
    const unknownType = await storeJob(pool, { type: 'report.generate', payload: {} });
    await deliver(sqs, queues.queueUrl, unknownType);
    const badPayload = await storeJob(pool, { type: 'sleep', payload: { ms: 10 } });
    await deliver(sqs, queues.queueUrl, { ...badPayload, body: badPayload.body.replace('"ms":10', '"ms":-5') });
    const good = await enqueue(pool, sqs, queues.queueUrl, { type: 'noop', payload: {} });

    await waitForStatus(pool, good, 'success');
    // The reason names the type and what this worker runs instead.
    expect(await waitForStatus(pool, unknownType.jobId, 'failed')).toMatchObject({
      attempts: 0,
      error: 'unknown type: job type "report.generate" is not run by this worker (pool default runs noop, sleep, points.grant)',
    });
    expect(await waitForStatus(pool, badPayload.jobId, 'failed')).toMatchObject({ attempts: 0, error: expect.stringMatching(/invalid payload/) });
    const dead = await waitFor('five poison messages in the DLQ', async () => {
      const metrics = await (await fetch(`${worker.url}/metrics`)).text();
      const total = [...metrics.matchAll(/conveyor_worker_poison_messages_total\{reason="[^"]+",service="worker"\} (\d+)/g)]
        .reduce((n, m) => n + Number(m[1]), 0);
      return total >= 5 && metrics;
    });
    expect(dead).toMatch(/poison_messages_total\{reason="invalid envelope",service="worker"\} 2/);
    expect(dead).toMatch(/poison_messages_total\{reason="unknown job",service="worker"\} 1/);
    const bodies = (await drainQueue(sqs, queues.dlqUrl, 1)).map((m) => m.Body);
    expect(bodies).toContain('not json at all');
    expect(bodies).toContain(unknownType.body);
    expect(bodies.length).toBeGreaterThanOrEqual(5);
    expect((await fetch(`${worker.url}/readyz`)).status).toBe(200);
  });
});

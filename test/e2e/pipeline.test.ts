import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetQueueUrlCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { createSqsClient } from '@conveyor/platform';
import { topology } from '@conveyor/jobs';
import pg from 'pg';
import { awsOptions } from '../support/infra.js';
import { startPlatform, type Platform } from '../support/platform.js';
import { ConveyorClient } from './client.js';

/** Every service a real process; real Postgres, Kafka and SNS/SQS/S3 emulator; a user's HTTP calls. */
describe('the pipeline end to end through the gateway', () => {
  let platform: Platform;
  let client: ConveyorClient;
  let db: pg.Pool;

  beforeAll(async () => {
    platform = await startPlatform({ workerEnv: { RETRY_BACKOFF_BASE_SECONDS: '1', RETRY_BACKOFF_MAX_SECONDS: '2', RESULT_INLINE_MAX_BYTES: '8192' } });
    client = new ConveyorClient(platform.gatewayUrl, await platform.login());
    db = new pg.Pool({ connectionString: platform.database.url, max: 2 });
  }, 240_000);
  afterAll(async () => {
    await db?.end();
    await platform?.stop();
  });

  it('runs a noop job: 202 + Location + Retry-After, then 200 success with a result', async () => {
    const { res, body } = await client.submit({ type: 'noop', payload: {} });
    expect(res.status).toBe(202);
    expect(res.headers.get('location')).toBe(`/jobs/${body.jobId}`);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(res.headers.get('x-request-id')).toBeTruthy();
    const done = await client.waitForFinish(String(body.jobId));
    expect(done).toMatchObject({ jobId: body.jobId, status: 'success', downloadUrl: `/jobs/${body.jobId}/result` });
    const result = await client.request(`/jobs/${body.jobId}/result`);
    expect(result.status).toBe(200);
    expect(await result.json()).toEqual({ ok: true });
  });

  it('follows seed 003: POST /generate-report -> poll -> result; a large CSV report is a 303 to a signed URL', async () => {
    await Promise.all(Array.from({ length: 5 }, () => client.submit({ type: 'sleep', payload: { ms: 10 } })));
    const small = await client.submit({ format: 'json' }, '/generate-report');
    expect(small.res.status).toBe(202);
    expect(await client.waitForFinish(String(small.body.jobId))).toMatchObject({ status: 'success' });
    const report = await client.request(`/jobs/${small.body.jobId}/result`);
    expect(report.status).toBe(200);
    expect(JSON.stringify(await report.json())).toContain('sleep');

    // Enough rows that the CSV outgrows the inline limit and is kept in S3.
    await Promise.all(Array.from({ length: 300 }, () => client.submit({ type: 'noop', payload: { pad: 'x'.repeat(200) } })));
    const large = await client.submit({ type: 'report.generate', payload: { format: 'csv', detail: true } });
    expect(await client.waitForFinish(String(large.body.jobId), 120_000)).toMatchObject({ status: 'success' });
    const redirect = await client.request(`/jobs/${large.body.jobId}/result`);
    expect(redirect.status).toBe(303);
    const signed = redirect.headers.get('location')!;
    expect(signed).toMatch(/X-Amz-Signature=/);
    const download = await fetch(signed);
    expect(download.status).toBe(200);
    const csv = await download.text();
    expect(csv.length).toBeGreaterThan(8192);
    expect(csv.split('\n').length).toBeGreaterThan(300);
  }, 180_000);

  it('grants a points reservation at executeAt, exactly once', async () => {
    // Granting takes the points:grant scope, which the admin dev user has and demo has not.
    const granter = new ConveyorClient(platform.gatewayUrl, await platform.login('admin@example.com', 'admin-password'));
    const executeAt = new Date(Date.now() + 5_000).toISOString();
    const { res, body } = await granter.submit({ userId: 'u-42', amount: 70, executeAt }, '/points/reservations');
    expect(res.status).toBe(202);
    const scheduled = await granter.job(String(body.jobId));
    expect(scheduled.body).toMatchObject({ status: 'running', phase: 'scheduled' });
    expect(await granter.waitForFinish(String(body.jobId))).toMatchObject({ status: 'success' });
    const { rows } = await db.query('SELECT started_at FROM jobs WHERE id = $1', [body.jobId]);
    expect(new Date(rows[0].started_at).getTime()).toBeGreaterThanOrEqual(Date.parse(executeAt));
    const balance = await granter.request('/points/u-42');
    expect(await balance.json()).toMatchObject({ userId: 'u-42', balance: 70 });
  });

  it('streams the lifecycle over SSE through the gateway, in order, until the job ends', async () => {
    const { body } = await client.submit({ type: 'sleep', payload: { ms: 1500 } });
    const res = await client.request(`/jobs/${body.jobId}/events`, { headers: { accept: 'text/event-stream' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const text = await res.text(); // the stream ends after the terminal event
    const types = [...text.matchAll(/^event: (.+)$/gm)].map((m) => m[1]);
    expect(types[0]).toBe('created');
    expect(types).toContain('started');
    expect(types.at(-1)).toBe('succeeded');
    expect(types.indexOf('started')).toBeLessThan(types.indexOf('succeeded'));
  });

  it('shows a handler\'s ctx.progress(percent, message) in GET /jobs/{id} while it runs and in the event stream', async () => {
    // sleep reports (step / steps) * 100 with the note `step n of steps`: 3000 ms is 6 steps.
    const { body } = await client.submit({ type: 'sleep', payload: { ms: 3000 } });
    const jobId = String(body.jobId);
    let running: Record<string, unknown> = {};
    await expect
      .poll(async () => (running = (await client.job(jobId)).body), { timeout: 30_000, interval: 100 })
      .toMatchObject({ status: 'running', phase: 'processing', progressMessage: expect.stringMatching(/^step [1-5] of 6$/) });
    // The note and the fraction come from one report (or the fraction from a later one).
    const step = Number(/^step (\d)/.exec(String(running.progressMessage))![1]);
    expect(running.progress).toBeGreaterThanOrEqual(step / 6 - 1e-9);
    const res = await client.request(`/jobs/${jobId}/events`, { headers: { accept: 'text/event-stream' } });
    const text = await res.text(); // replays what happened so far, ends after the terminal event
    const progress = [...text.matchAll(/^event: progress\ndata: (.+)$/gm)].map((m) => JSON.parse(m[1]!) as Record<string, unknown>);
    expect(progress.map((p) => p.data)).toEqual(
      [1, 2, 3, 4, 5].map((step) => expect.objectContaining({ progress: expect.closeTo(step / 6, 6), message: `step ${step} of 6`, attempt: 1 })),
    );
  });

  it('leaves a completion notice for the owner', async () => {
    const { body } = await client.submit({ type: 'noop', payload: {} });
    await client.waitForFinish(String(body.jobId));
    await expect
      .poll(async () => {
        const res = await client.request('/notifications/unread');
        const list = (await res.json()) as { items?: Array<{ jobId: string }> } | Array<{ jobId: string }>;
        const items = Array.isArray(list) ? list : (list.items ?? []);
        return items.some((n) => n.jobId === body.jobId);
      }, { timeout: 30_000, interval: 250 })
      .toBe(true);
  });

  it('fails a poison job after maxAttempts and leaves its message in the DLQ', async () => {
    const { body } = await client.submit({ type: 'sleep', payload: { ms: 5000 }, timeoutSeconds: 1, maxAttempts: 2 });
    const done = await client.waitForFinish(String(body.jobId), 90_000);
    expect(done).toMatchObject({ status: 'failed' });
    expect(String(done.error)).toBeTruthy();
    const { rows } = await db.query('SELECT attempts FROM jobs WHERE id = $1', [body.jobId]);
    expect(rows[0].attempts).toBe(2);
    const sqs = createSqsClient(awsOptions);
    try {
      const dlq = topology(platform.namespace).queues.find((q) => q.pool.name === 'default')!.deadLetterQueue;
      const { QueueUrl: url } = await sqs.send(new GetQueueUrlCommand({ QueueName: dlq }));
      const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 2 }));
      expect(Messages.some((m) => m.Body?.includes(String(body.jobId)))).toBe(true);
    } finally {
      sqs.destroy();
    }
  }, 120_000);

  it('runs every attempt of a job whose maxAttempts exceeds its queue\'s maxReceiveCount, then fails it and says so; never in the DLQ while it retries', async () => {
    const queue = topology(platform.namespace).queues.find((q) => q.pool.name === 'default')!;
    const maxAttempts = queue.pool.maxReceiveCount + 2;
    const { res, body } = await client.submit({ type: 'sleep', payload: { ms: 5000 }, timeoutSeconds: 1, maxAttempts });
    expect(res.status).toBe(202);
    const jobId = String(body.jobId);
    const sqs = createSqsClient(awsOptions);
    try {
      const { QueueUrl: dlqUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: queue.deadLetterQueue }));
      // Visibility 0: looking does not hide the message from the next look.
      const inDlq = async () => {
        const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 0 }));
        return Messages.some((m) => m.Body?.includes(jobId));
      };
      const deadline = Date.now() + 150_000;
      let done: Record<string, unknown> | undefined;
      while (!done) {
        const dead = await inDlq();
        const { res: status, body: view } = await client.job(jobId);
        if (status.status === 200) {
          done = view;
          break;
        }
        if (view.phase === 'retrying') expect(view.runAt, 'a retrying job shows when its next attempt runs').toEqual(expect.any(String));
        expect(dead, `its message is in the DLQ while it is ${String(view.phase)} after ${String(view.attempts)} attempts`).toBe(false);
        expect(Date.now(), `finished within 150 s; last seen ${JSON.stringify(view)}`).toBeLessThan(deadline);
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(done).toMatchObject({ status: 'failed', attempts: maxAttempts, maxAttempts, error: `gave up after ${maxAttempts} attempts: timed out after 1 s` });
      const { rows } = await db.query<{ type: string; reason: string | null }>(
        `SELECT type, data->>'reason' AS reason FROM job_events WHERE job_id = $1 ORDER BY id`,
        [jobId],
      );
      const count = (type: string, reason?: string) => rows.filter((e) => e.type === type && (reason === undefined || e.reason === reason)).length;
      expect(count('started')).toBe(maxAttempts);
      expect(count('retried')).toBe(maxAttempts - 1);
      // Each retry went back through the scheduler as a fresh message.
      expect(count('queued', 'retry')).toBe(maxAttempts - 1);
      expect(count('failed', 'attempts exhausted')).toBe(1);
      await expect.poll(inDlq, { timeout: 10_000, interval: 250 }).toBe(true);
    } finally {
      sqs.destroy();
    }
  }, 180_000);

  it('cancels a running job within a second, and answers repeated DELETEs with the state the job is in', async () => {
    const { body } = await client.submit({ type: 'sleep', payload: { ms: 30_000 } });
    const jobId = String(body.jobId);
    await expect.poll(async () => (await client.job(jobId)).body.phase, { timeout: 30_000 }).toBe('processing');
    const sent = performance.now();
    const cancel = await client.request(`/jobs/${jobId}`, { method: 'DELETE' });
    expect(cancel.status).toBe(202);
    expect(await cancel.json()).toEqual({ jobId, status: 'running', phase: 'processing' });
    let view = await client.job(jobId);
    while (view.res.status !== 200 && performance.now() - sent < 15_000) {
      await new Promise((r) => setTimeout(r, 20));
      view = await client.job(jobId);
    }
    const elapsedMs = performance.now() - sent;
    expect(view.body).toMatchObject({ status: 'cancelled' });
    console.info(`running job cancelled ${Math.round(elapsedMs)} ms after its DELETE was sent`);
    // Its worker heartbeats every 10 s here: only the cancel announcement explains a second.
    expect(elapsedMs).toBeLessThan(1_000);
    for (let i = 0; i < 2; i++) {
      const again = await client.request(`/jobs/${jobId}`, { method: 'DELETE' });
      expect(again.status).toBe(200);
      expect(await again.json()).toEqual({ jobId, status: 'cancelled' });
    }
    const { rows } = await db.query(`SELECT type FROM job_events WHERE job_id = $1 AND type IN ('cancelled', 'succeeded', 'failed')`, [jobId]);
    expect(rows.map((r) => r.type)).toEqual(['cancelled']);

    const finished = await client.submit({ type: 'noop', payload: {} });
    await client.waitForFinish(String(finished.body.jobId));
    const late = await client.request(`/jobs/${String(finished.body.jobId)}`, { method: 'DELETE' });
    expect(late.status).toBe(409);
    expect(await late.json()).toMatchObject({ details: { status: 'success' } });
  }, 60_000);

  it('carries 1,000 mixed jobs to a terminal state with correct results', async () => {
    const kinds = [
      { type: 'noop', payload: {} },
      { type: 'sleep', payload: { ms: 20 } },
    ];
    const ids: string[] = [];
    for (let batch = 0; batch < 20; batch++) {
      const replies = await Promise.all(
        Array.from({ length: 50 }, (_, i) => client.submit(kinds[(batch + i) % kinds.length]!)),
      );
      for (const { res, body } of replies) {
        expect(res.status).toBe(202);
        ids.push(String(body.jobId));
      }
    }
    await expect
      .poll(
        async () => {
          const { rows } = await db.query(
            "SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1::uuid[]) AND status = 'success'",
            [ids],
          );
          return rows[0].n;
        },
        { timeout: 150_000, interval: 1000 },
      )
      .toBe(1000);
    const { rows } = await db.query(
      "SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1::uuid[]) AND type = 'sleep' AND result = '{\"json\": {\"sleptMs\": 20}}'::jsonb",
      [ids],
    );
    expect(rows[0].n).toBe(500);
  }, 240_000);
});

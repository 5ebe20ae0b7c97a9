import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createPool, createS3Client, createSqsClient, type Pool } from '@conveyor/platform';
import { migrateJobsSchema } from '@conveyor/jobs';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.js';
import { awsOptions } from '../../../test/support/infra.js';
import type { RunningService } from '../../../test/support/service-process.js';
import {
  createBucket,
  createPoolQueues,
  deliver,
  enqueue,
  startWorker,
  storeJob,
  topology,
  uniqueNamespace,
  waitFor,
  waitForStatus,
  type PoolQueues,
} from '../../../packages/worker-sdk/test/support.js';

/** As many reservations as issue 4 asks the ledger to survive, each delivered at least twice. */
const RESERVATIONS = 500;

describe('built-in handlers run by the worker', () => {
  let db: TestDatabase;
  let pool: Pool;
  let sqs: SQSClient;
  let s3: S3Client;
  let defaults: PoolQueues;
  let reports: PoolQueues;
  const workers: RunningService[] = [];
  const namespace = uniqueNamespace('wh');
  const bucket = `${namespace}-results`;

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 10 });
    await migrateJobsSchema(pool);
    sqs = createSqsClient(awsOptions);
    s3 = createS3Client(awsOptions);
    const t = topology(namespace);
    [defaults, reports] = await Promise.all([createPoolQueues(sqs, t, 'default'), createPoolQueues(sqs, t, 'reports')]);
    await createBucket(s3, bucket);
    // One at a time: three processes booting together on a busy machine can miss the start timeout.
    workers.push(await startWorker({ databaseUrl: db.url, namespace, bucket, extra: { WORKER_CONCURRENCY: '16' } }));
    workers.push(await startWorker({ databaseUrl: db.url, namespace, bucket, extra: { WORKER_CONCURRENCY: '16' } }));
    workers.push(await startWorker({ databaseUrl: db.url, namespace, bucket, extra: { WORKER_POOL: 'reports', RESULT_INLINE_MAX_BYTES: '4096' } }));
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop('SIGKILL')));
    sqs?.destroy();
    s3?.destroy();
    await pool?.end();
    await db?.drop();
  });

  it(`grants ${RESERVATIONS} reservations exactly once under duplicate deliveries across two workers`, async () => {
    const users = ['alice', 'bob', 'carol', 'dave'];
    const grants = Array.from({ length: RESERVATIONS }, (_, i) => ({
      reservationId: randomUUID(),
      userId: users[i % users.length]!,
      amount: 1 + (i % 7),
    }));
    const jobs = [];
    for (const payload of grants) jobs.push(await storeJob(pool, { type: 'points.grant', payload }));
    // Every message twice, and every tenth job a second time as a separate job for the same reservation.
    const extra = [];
    for (let i = 0; i < grants.length; i += 10) extra.push(await storeJob(pool, { type: 'points.grant', payload: grants[i]! }));
    const messages = [...jobs, ...jobs, ...extra];
    for (let i = 0; i < messages.length; i += 25) await Promise.all(messages.slice(i, i + 25).map((m) => deliver(sqs, defaults.queueUrl, m)));

    await waitFor('all grant jobs succeeded', async () => {
      const { rows } = await pool.query(`SELECT count(*)::int AS n FROM jobs WHERE type = 'points.grant' AND status = 'success'`);
      return rows[0].n === jobs.length + extra.length;
    }, 180_000);
    const { rows: balances } = await pool.query<{ user_id: string; balance: string }>(
      `SELECT user_id, balance FROM points_balances WHERE tenant = 'demo'`,
    );
    for (const user of users) {
      const expected = grants.filter((g) => g.userId === user).reduce((n, g) => n + g.amount, 0);
      expect(Number(balances.find((b) => b.user_id === user)?.balance), user).toBe(expected);
    }
    const { rows: ledger } = await pool.query(`SELECT count(*)::int AS n FROM points_transactions`);
    expect(ledger[0].n).toBe(RESERVATIONS);
    const { rows: runs } = await pool.query(`SELECT count(*)::int AS n FROM job_events WHERE type = 'started'`);
    expect(runs[0].n).toBe(jobs.length + extra.length);
  }, 240_000);

  it('stores a small JSON report inline and a large detailed CSV report in S3', async () => {
    const small = await enqueue(pool, sqs, reports.queueUrl, { type: 'report.generate', payload: {} });
    const smallRow = await waitForStatus(pool, small, 'success');
    expect(smallRow.result_key).toBeNull();
    const report = (smallRow.result as { json: { totals: { jobs: number; succeeded: number }; byType: Array<{ type: string; successRate: number }> } }).json;
    expect(report.totals.succeeded).toBeGreaterThanOrEqual(220);
    expect(report.byType.find((t) => t.type === 'points.grant')?.successRate).toBe(1);

    const large = await enqueue(pool, sqs, reports.queueUrl, { type: 'report.generate', payload: { format: 'csv', detail: true } });
    const row = await waitForStatus(pool, large, 'success');
    expect(row.result_key).toBe(`results/demo/${large}`);
    const summary = row.result as { contentType: string; bytes: number };
    expect(summary.contentType).toBe('text/csv');
    expect(summary.bytes).toBeGreaterThan(4096);
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: row.result_key! }));
    const text = await object.Body!.transformToString();
    expect(Buffer.byteLength(text)).toBe(summary.bytes);
    const lines = text.trim().split('\n');
    expect(lines[0]).toBe('job_id,type,status,attempts,created_at,started_at,finished_at,duration_ms');
    expect(lines.length).toBeGreaterThan(220);
  });
});

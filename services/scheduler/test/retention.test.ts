import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, createPool, createS3Client, Registry, type Pool } from '@conveyor/platform';
import { createJob, migrateJobsSchema } from '@conveyor/jobs';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.js';
import { awsOptions, uniqueName } from '../../../test/support/infra.js';
import { finishedJobsRules, retentionOverrides } from '../src/retention/policy.js';
import { createRetentionMetrics, retentionPass, type RetentionPolicy } from '../src/retention/retention.js';

const logger = createLogger({ service: 'scheduler-test', level: 'silent' });
const DAY = 86_400;

describe('retention against real Postgres and the S3 emulator', () => {
  let db: TestDatabase;
  let pool: Pool;
  let s3: S3Client;
  const bucket = uniqueName('retention').toLowerCase().replaceAll('_', '-');

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 5 });
    await migrateJobsSchema(pool);
    s3 = createS3Client(awsOptions);
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  afterAll(async () => {
    s3?.destroy();
    await pool?.end();
    await db?.drop();
  });

  /** A job of `tenant`/`type`, finished `ageDays` ago (or still `status`), with its events and a notification. */
  async function job(tenant: string, type: string, ageDays: number | null, extra: { idempotencyKey?: string; resultKey?: string } = {}): Promise<string> {
    const { jobId } = await createJob(pool, { tenant, owner: 'u1', type, payload: {}, idempotencyKey: extra.idempotencyKey, tags: ['env:prod', 'team=a'] });
    if (ageDays !== null) {
      await pool.query(
        `UPDATE jobs SET status = 'success', finished_at = now() - make_interval(days => $2), created_at = now() - make_interval(days => $2 + 1), result_key = $3 WHERE id = $1`,
        [jobId, ageDays, extra.resultKey ?? null],
      );
    }
    await pool.query(`INSERT INTO job_events (job_id, type) VALUES ($1, 'succeeded')`, [jobId]);
    await pool.query(`INSERT INTO notifications (tenant, owner, job_id, kind, message) VALUES ($1, 'u1', $2, 'job.succeeded', 'done')`, [tenant, jobId]);
    return jobId;
  }
  const exists = async (id: string) => (await pool.query('SELECT 1 FROM jobs WHERE id = $1', [id])).rowCount === 1;
  const count = async (sql: string, id: string) => Number((await pool.query<{ n: string }>(sql, [id])).rows[0]!.n);
  const objectExists = (key: string) =>
    s3.send(new GetObjectCommand({ Bucket: bucket, Key: key })).then(
      () => true,
      (error: { name?: string }) => (error.name === 'NoSuchKey' ? false : Promise.reject(error)),
    );

  it('removes finished jobs past their policy with their events, notifications and result objects, in batches, and nothing younger', async () => {
    const policy: RetentionPolicy = {
      finishedJobs: finishedJobsRules(
        30 * DAY,
        retentionOverrides.parse(
          JSON.stringify([
            { tenant: 'keeper', finishedJobs: '90d' },
            { type: 'report.generate', finishedJobs: '7d' },
            { tenant: 'keeper', type: 'sleep', finishedJobs: 'forever' },
          ]),
        ),
      ),
      idempotencyKeySeconds: DAY,
      notificationSeconds: 30 * DAY,
    };
    // More old jobs than one batch, so the pass takes several statements.
    const old = await Promise.all(Array.from({ length: 12 }, (_, i) => job('demo', 'noop', 31 + i)));
    const young = await job('demo', 'noop', 29);
    const running = await job('demo', 'noop', null);
    await pool.query(`UPDATE jobs SET status = 'processing', created_at = now() - interval '400 days' WHERE id = $1`, [running]);
    const keptByTenant = await job('keeper', 'noop', 60);
    const expiredForTenant = await job('keeper', 'noop', 91);
    const keptForever = await job('keeper', 'sleep', 400);
    const shortType = await job('demo', 'report.generate', 8, { resultKey: `${uniqueName('r')}.json` });
    const shortTypeYoung = await job('demo', 'report.generate', 6);
    const resultKey = (await pool.query<{ result_key: string }>('SELECT result_key FROM jobs WHERE id = $1', [shortType])).rows[0]!.result_key;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: resultKey, Body: '{"big":true}' }));
    // A reservation is part of the ledger: it stays, without its job.
    await pool.query(`INSERT INTO points_reservations (id, tenant, user_id, amount, execute_at, job_id) VALUES (gen_random_uuid(), 'demo', 'u1', 5, now(), $1)`, [old[0]]);

    const registry = new Registry();
    const metrics = createRetentionMetrics(registry, pool, policy);
    const summary = await retentionPass({ db: pool, policy, batchSize: 5, results: { s3, bucket }, logger, metrics });

    expect(summary.jobs).toBe(old.length + 2);
    expect(summary.resultObjects).toBe(1);
    for (const id of [...old, expiredForTenant, shortType]) {
      expect(await exists(id), id).toBe(false);
      expect(await count('SELECT count(*) AS n FROM job_events WHERE job_id = $1', id)).toBe(0);
      expect(await count('SELECT count(*) AS n FROM notifications WHERE job_id = $1', id)).toBe(0);
      expect(await count('SELECT count(*) AS n FROM job_tags WHERE job_id = $1', id)).toBe(0);
    }
    for (const id of [young, running, keptByTenant, keptForever, shortTypeYoung]) {
      expect(await exists(id), id).toBe(true);
      // Their search rows followed the created_at the test moved back.
      expect((await pool.query('SELECT t.tag FROM job_tags t JOIN jobs j ON j.id = t.job_id AND j.created_at = t.created_at AND j.tenant = t.tenant WHERE j.id = $1 ORDER BY t.tag', [id])).rows).toEqual([
        { tag: 'env:prod' },
        { tag: 'team=a' },
      ]);
    }
    expect(await objectExists(resultKey)).toBe(false);
    expect((await pool.query('SELECT job_id FROM points_reservations')).rows).toEqual([{ job_id: null }]);

    const text = await registry.metrics();
    expect(text).toContain(`conveyor_retention_removed_total{table="jobs"} ${old.length + 2}`);
    expect(text).toContain('conveyor_retention_removed_total{table="results"} 1');
    // One rule keeps jobs forever: no yardstick for jobs, so no alert on their age.
    expect(text).not.toContain('conveyor_retention_keep_seconds{table="jobs"}');
    expect(text).toContain(`conveyor_retention_keep_seconds{table="notifications"} ${30 * DAY}`);
    // The oldest finished job left is the one kept forever, 400 days old.
    const oldest = Number(/conveyor_table_oldest_row_seconds\{table="jobs"\} ([\d.e+]+)/.exec(text)?.[1]);
    expect(oldest).toBeGreaterThan(399 * DAY);
    expect(text).toMatch(/conveyor_table_bytes\{table="job_events"\} [1-9]/);

    const again = await retentionPass({ db: pool, policy, batchSize: 5, results: { s3, bucket }, logger, metrics });
    expect(again).toEqual({ jobs: 0, expiredResults: 0, resultObjects: 0, idempotencyKeys: 0, notifications: 0 });
  });

  it("drops results kept past their job type's resultRetentionSeconds, with their objects, and keeps the jobs", async () => {
    const policy: RetentionPolicy = { finishedJobs: finishedJobsRules(null, []), idempotencyKeySeconds: null, notificationSeconds: null };
    const tenant = uniqueName('t');
    /** A succeeded job of a type keeping results `keep` seconds (null: forever), finished `ageSeconds` ago. */
    const succeeded = async (keep: number | null, ageSeconds: number, objectKey?: string) => {
      const defaults = { priority: 0, maxAttempts: 3, timeoutSeconds: 60, resultRetentionSeconds: keep };
      const { jobId } = await createJob(pool, { tenant, owner: 'u1', type: 'noop', payload: {}, defaults });
      await pool.query(
        `UPDATE jobs SET status = 'success', result = '{"json":{"n":1}}', result_key = $3, finished_at = now() - make_interval(secs => $2) WHERE id = $1`,
        [jobId, ageSeconds, objectKey ?? null],
      );
      if (objectKey) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: objectKey, Body: '{"big":true}' }));
      return jobId;
    };
    const objectKey = `results/${tenant}/${uniqueName('big')}`;
    const due = await Promise.all([succeeded(60, 120, objectKey), ...Array.from({ length: 6 }, () => succeeded(3600, 3700))]);
    const keptYoung = await succeeded(3600, 600);
    const keptForever = await succeeded(null, 400 * DAY);

    const registry = new Registry();
    const metrics = createRetentionMetrics(registry, pool, policy);
    const summary = await retentionPass({ db: pool, policy, batchSize: 5, results: { s3, bucket }, logger, metrics });
    expect(summary).toMatchObject({ jobs: 0, expiredResults: due.length, resultObjects: 1 });

    const { rows } = await pool.query<{ id: string; result: unknown; result_key: string | null; result_expired_at: Date | null }>(
      'SELECT id, result, result_key, result_expired_at FROM jobs WHERE id = ANY($1::uuid[])',
      [[...due, keptYoung, keptForever]],
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const id of due) expect(byId.get(id), id).toMatchObject({ result: null, result_key: null, result_expired_at: expect.any(Date) });
    for (const id of [keptYoung, keptForever]) expect(byId.get(id), id).toMatchObject({ result: { json: { n: 1 } }, result_expired_at: null });
    expect(await objectExists(objectKey)).toBe(false);
    expect(await registry.metrics()).toContain(`conveyor_retention_removed_total{table="expired_results"} ${due.length}`);

    expect(await retentionPass({ db: pool, policy, batchSize: 5, results: { s3, bucket }, logger, metrics })).toMatchObject({ expiredResults: 0 });
  });

  it('forgets idempotency keys after their window, so the key makes a new job, and expires notifications on their own clock', async () => {
    const policy: RetentionPolicy = { finishedJobs: finishedJobsRules(null, []), idempotencyKeySeconds: DAY, notificationSeconds: 7 * DAY };
    const tenant = uniqueName('t');
    const stale = await job(tenant, 'noop', null, { idempotencyKey: 'order-1' });
    const fresh = await job(tenant, 'noop', null, { idempotencyKey: 'order-2' });
    await pool.query(`UPDATE jobs SET created_at = now() - interval '25 hours' WHERE id = $1`, [stale]);
    await pool.query(`UPDATE notifications SET created_at = now() - interval '8 days' WHERE job_id = $1`, [fresh]);

    const metrics = createRetentionMetrics(new Registry(), pool, policy);
    const summary = await retentionPass({ db: pool, policy, batchSize: 100, logger, metrics });
    expect(summary).toMatchObject({ jobs: 0, idempotencyKeys: 1, notifications: 1 });

    const replay = await createJob(pool, { tenant, owner: 'u1', type: 'noop', payload: {}, idempotencyKey: 'order-2' });
    expect(replay.jobId).toBe(fresh);
    const reuse = await createJob(pool, { tenant, owner: 'u1', type: 'noop', payload: {}, idempotencyKey: 'order-1' });
    expect(reuse.jobId).not.toBe(stale);
    expect(await exists(stale)).toBe(true);
    expect(await count('SELECT count(*) AS n FROM notifications WHERE job_id = $1', fresh)).toBe(0);
    expect(await count('SELECT count(*) AS n FROM notifications WHERE job_id = $1', stale)).toBe(1);
  });

  it('serves each delete from its index, not a scan of the table', async () => {
    // Tiny test tables would be read whole whatever the indexes: forbid that, as a large table would.
    const client = await pool.connect();
    await client.query('SET enable_seqscan = off');
    // Plans follow the statistics: take them now, or autovacuum taking them mid-test changes the plan under the assertion.
    await client.query('ANALYZE jobs, notifications');
    const plan = async (sql: string) => (await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`)).rows.map((r) => r['QUERY PLAN']).join('\n');
    // Each statement walks an index in its ORDER BY (the one named is what serves it on a real table;
    // on a tiny one the planner may prefer a sibling index over the same column, which is as good).
    const fromIndex = (text: string, ...indexes: string[]) => {
      expect(text).not.toContain('Seq Scan');
      expect(indexes.some((index) => text.includes(index)), text).toBe(true);
    };
    fromIndex(await plan(`SELECT id FROM jobs WHERE status IN ('success', 'failed', 'cancelled') AND finished_at < now() - interval '30 days' ORDER BY finished_at LIMIT 1000`), 'jobs_finished');
    fromIndex(await plan(`SELECT id FROM jobs WHERE idempotency_key IS NOT NULL AND created_at < now() - interval '1 day' ORDER BY created_at LIMIT 1000`), 'jobs_idempotency_created', 'jobs_created');
    fromIndex(await plan(`SELECT id FROM notifications WHERE created_at < now() - interval '30 days' ORDER BY created_at LIMIT 1000`), 'notifications_created');
    fromIndex(
      await plan(`SELECT id FROM jobs WHERE status = 'success' AND result_retention_seconds IS NOT NULL AND result_expired_at IS NULL
                    AND finished_at < now() - make_interval(secs => result_retention_seconds) ORDER BY finished_at LIMIT 1000`),
      'jobs_result_expiry',
      'jobs_finished',
    );
    client.release(true);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '@conveyor/platform';
import { createJob, jobType, migrateJobsSchema } from '@conveyor/jobs';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.js';
import { handlerContext } from './handler-context.js';

interface Report {
  totals: { jobs: number; succeeded: number; failed: number; successRate: number };
  byType: Array<{ type: string; total: number; succeeded: number; failed: number; successRate: number | null; p50Ms: number; p95Ms: number; p99Ms: number }>;
  byTypeAndStatus: Array<{ type: string; status: string; count: number }>;
  jobs?: Array<{ jobId: string; durationMs: number | null }>;
}

describe('report.generate handler against real Postgres', () => {
  let db: TestDatabase;
  let pool: Pool;
  const report = jobType('report.generate')!;
  const base = new Date('2026-03-01T00:00:00Z');

  /** A finished job created at base + minute, that ran for `ms`. */
  async function finished(tenant: string, type: string, status: string, ms: number, minute = 0) {
    const { jobId } = await createJob(pool, { tenant, owner: 'o', type, payload: {} });
    const created = new Date(base.getTime() + minute * 60_000);
    await pool.query(
      `UPDATE jobs SET status = $2, created_at = $3, started_at = $3, finished_at = $3::timestamptz + make_interval(secs => $4 / 1000.0) WHERE id = $1`,
      [jobId, status, created, ms],
    );
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 5 });
    await migrateJobsSchema(pool);
    // noop: 100 successes of 1..100 ms; sleep: 3 successes and 1 failure; another tenant; one job out of range.
    for (let i = 1; i <= 100; i++) await finished('demo', 'noop', 'success', i, i % 50);
    for (const ms of [100, 200, 300]) await finished('demo', 'sleep', 'success', ms);
    await finished('demo', 'sleep', 'failed', 50);
    await finished('other', 'noop', 'success', 5);
    await finished('demo', 'noop', 'success', 5, 60 * 25);
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  const range = { from: base.toISOString(), to: new Date(base.getTime() + 24 * 3600_000).toISOString() };

  it('counts by type and status with success rates and duration percentiles, for the tenant and range only', async () => {
    const progress: number[] = [];
    const result = (await report.handle(report.payload.parse(range), handlerContext(pool, 'demo', progress))) as { json: Report };
    const r = result.json;
    expect(r.totals).toEqual({ jobs: 104, succeeded: 103, failed: 1, successRate: 0.99 });
    const noop = r.byType.find((t) => t.type === 'noop')!;
    expect(noop).toMatchObject({ total: 100, succeeded: 100, failed: 0, successRate: 1 });
    // percentile_cont over 1..100 ms: p50 = 50.5, p95 = 95.05, p99 = 99.01.
    expect(noop.p50Ms).toBeCloseTo(50.5, 1);
    expect(noop.p95Ms).toBeCloseTo(95.05, 1);
    expect(noop.p99Ms).toBeCloseTo(99.01, 1);
    expect(r.byType.find((t) => t.type === 'sleep')).toMatchObject({ total: 4, succeeded: 3, failed: 1, successRate: 0.75 });
    expect(r.byTypeAndStatus).toEqual([
      expect.objectContaining({ type: 'noop', status: 'success', count: 100 }),
      expect.objectContaining({ type: 'sleep', status: 'failed', count: 1 }),
      expect.objectContaining({ type: 'sleep', status: 'success', count: 3 }),
    ]);
    expect(r.jobs).toBeUndefined();
    expect(progress.length).toBeGreaterThan(0);
  });

  it('writes CSV by type and status, or one row per job with detail', async () => {
    const grouped = (await report.handle(report.payload.parse({ ...range, format: 'csv' }), handlerContext(pool))) as { contentType: string; text: string };
    expect(grouped.contentType).toBe('text/csv');
    const lines = grouped.text.trim().split('\n');
    expect(lines[0]).toBe('type,status,count,p50_ms,p95_ms,p99_ms');
    expect(lines[1]).toMatch(/^noop,success,100,50\.5,/);
    expect(lines).toHaveLength(4);

    const detailed = (await report.handle(report.payload.parse({ ...range, format: 'csv', detail: true }), handlerContext(pool))) as { text: string };
    expect(detailed.text.trim().split('\n')).toHaveLength(105);
    const json = (await report.handle(report.payload.parse({ ...range, detail: true }), handlerContext(pool))) as { json: Report };
    expect(json.json.jobs).toHaveLength(104);
  });

  it('defaults to the last 24 hours', async () => {
    await finished('recent', 'noop', 'success', 10, (Date.now() - base.getTime()) / 60_000 - 60);
    const r = (await report.handle(report.payload.parse({}), handlerContext(pool, 'recent'))) as { json: Report };
    expect(r.json.totals.jobs).toBe(1);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLAIM_JOBS_SQL, COMPLETE_JOBS_SQL } from '@conveyor/jobs';
import { byIndex, explainScans, seededDatabase } from '../../../test/support/plans.js';

/**
 * A worker claims and completes a handful of known jobs at a time, for as long as it runs. In the
 * 50,000-job drain of `make bench`, statistics taken before the burst (no job queued or processing)
 * made Postgres answer each claim of ten by scanning every queued and processing job through the
 * partial indexes on status. These tests recreate such statistics and read the plans it picks.
 */
describe('worker claim and completion plans against real Postgres', () => {
  let database: Awaited<ReturnType<typeof seededDatabase>>;
  const ids = async (status: string) =>
    (await database.pool.query<{ id: string }>('SELECT id FROM jobs WHERE status = $1 LIMIT 10', [status])).rows.map((r) => r.id);

  beforeAll(async () => {
    // Analysed while every job is finished; then a burst of 8,000 queued and 2,000 processing jobs
    // arrives before autovacuum analyses again.
    database = await seededDatabase(`
      INSERT INTO jobs (id, tenant, owner, type, payload, status, published_at)
      SELECT gen_random_uuid(), 't', 'o', 'noop', '{}', 'success', now() FROM generate_series(1, 20000);
      ANALYZE jobs;
      INSERT INTO jobs (id, tenant, owner, type, payload, status, published_at)
      SELECT gen_random_uuid(), 't', 'o', 'noop', '{}', 'queued', now() FROM generate_series(1, 8000);
      INSERT INTO jobs (id, tenant, owner, type, payload, status, published_at, locked_by, attempts, heartbeat_at)
      SELECT gen_random_uuid(), 't', 'o', 'noop', '{}', 'processing', now(), 'w', 1, now() FROM generate_series(1, 2000);`);
  }, 120_000);

  afterAll(() => database?.drop());

  /** Reads of the jobs table other than by its primary key (a bitmap heap scan follows an index's bitmap). */
  const otherReadsOfJobs = (plan: string[]) =>
    plan.filter((s) => / on jobs$| jobs_/.test(s) && !s.includes('jobs_pkey') && !s.startsWith('Bitmap Heap Scan'));

  it('claims ten queued jobs by primary key, without scanning the queued or processing ones', async () => {
    const plan = await explainScans(database.pool, CLAIM_JOBS_SQL, [await ids('queued'), 'w2', 30, 'default']);
    expect(otherReadsOfJobs(plan)).toEqual([]);
    expect(byIndex(plan, 'jobs_pkey')).not.toEqual([]);
  });

  it('completes ten processing jobs by primary key, without scanning the processing ones', async () => {
    const processing = await ids('processing');
    const plan = await explainScans(database.pool, COMPLETE_JOBS_SQL, [
      processing,
      processing.map(() => 'w'),
      processing.map(() => 1),
      processing.map(() => '{}'),
      processing.map(() => null),
    ]);
    expect(otherReadsOfJobs(plan)).toEqual([]);
    expect(byIndex(plan, 'jobs_pkey')).not.toEqual([]);
  });
});

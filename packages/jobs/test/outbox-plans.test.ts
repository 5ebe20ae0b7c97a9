import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimBatch, markPublished, type Statement } from '../src/outbox/outbox.sql.js';
import { byIndex, explainScans, seededDatabase } from '../../../test/support/plans.js';

/**
 * The relay claims several times a second for as long as the system runs. With `id IN (subquery)`,
 * statistics taken while a backlog waited made Postgres hash-join a sequential scan of the whole
 * table into every claim (23 ms a round at 120,000 events). These tests recreate such statistics
 * on tables of a size where the scan looks cheap to the planner, and read the plan it picks for
 * the statement the relay runs; the `IN (subquery)` forms of its two claims each failed this.
 */
describe('outbox claim plans against real Postgres', () => {
  let database: Awaited<ReturnType<typeof seededDatabase>>;

  const planOf = (statement: Statement) => explainScans(database.pool, statement.text, statement.values);

  beforeAll(async () => {
    // 10,000 finished jobs with their events, then a backlog of 10,000 unpublished ones with 20,000 events, analysed
    // while it waits: the statistics a busy relay leaves behind.
    database = await seededDatabase(`
      INSERT INTO jobs (id, tenant, owner, type, payload, status, published_at)
      SELECT gen_random_uuid(), 't', 'o', 'noop', '{}', 'success', now() FROM generate_series(1, 10000);
      INSERT INTO job_events (job_id, type, published_at)
      SELECT id, kind, now() FROM jobs, unnest(ARRAY['created', 'started', 'succeeded']) AS kind;
      INSERT INTO jobs (id, tenant, owner, type, payload, status)
      SELECT gen_random_uuid(), 't', 'o', 'noop', '{}', 'queued' FROM generate_series(1, 10000);
      INSERT INTO job_events (job_id, type)
      SELECT id, kind FROM jobs, unnest(ARRAY['created', 'queued']) AS kind WHERE published_at IS NULL;
      ANALYZE jobs;
      ANALYZE job_events;`);
    // The backlog drains; the statistics stay until autovacuum analyses again.
    await database.pool.query(`UPDATE jobs SET published_at = now() WHERE published_at IS NULL AND status = 'queued'
                        AND id NOT IN (SELECT id FROM jobs WHERE published_at IS NULL LIMIT 50)`);
    await database.pool.query(`UPDATE job_events SET published_at = now() WHERE published_at IS NULL
                        AND id NOT IN (SELECT id FROM job_events WHERE published_at IS NULL ORDER BY id LIMIT 50)`);
  }, 120_000);

  afterAll(() => database?.drop());

  it('claims each lane of jobs and the events through their unpublished indexes and primary keys, never a scan of a table', async () => {
    const plan = await planOf(claimBatch(500));
    expect(plan.filter((s) => s.startsWith('Seq Scan'))).toEqual([]);
    expect(plan.filter((s) => s === 'Index Scan jobs_unpublished_lane on jobs')).toHaveLength(2);
    expect(plan).toContain('Index Scan job_events_unpublished on job_events');
    expect(byIndex(plan, 'jobs_pkey')).not.toEqual([]);
    expect(byIndex(plan, 'job_events_pkey')).not.toEqual([]);
  });

  it('marks a claimed batch published through the primary keys', async () => {
    const ids = async (table: string) =>
      (await database.pool.query<{ id: string }>(`SELECT id::text FROM ${table} WHERE published_at IS NULL LIMIT 50`)).rows.map((r) => r.id);
    const plan = await planOf(markPublished(await ids('jobs'), await ids('job_events')));
    expect(plan.filter((s) => s.startsWith('Seq Scan'))).toEqual([]);
    expect(byIndex(plan, 'jobs_pkey')).not.toEqual([]);
    expect(byIndex(plan, 'job_events_pkey')).not.toEqual([]);
  });
});

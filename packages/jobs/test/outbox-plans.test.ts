import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '@conveyor/platform';
import { migrateJobsSchema } from '@conveyor/jobs';
import { claimBatch, type Statement } from '../src/outbox/outbox.sql.js';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.js';

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

/** Every node that reads a table or an index, as `<node type> <index>? on <table>?`. */
function scans(node: PlanNode): string[] {
  const reads = node['Node Type'] !== 'ModifyTable' && (node['Relation Name'] || node['Index Name']);
  const own = reads ? [[node['Node Type'], node['Index Name'], node['Relation Name'] && `on ${node['Relation Name']}`].filter(Boolean).join(' ')] : [];
  return [...own, ...(node.Plans ?? []).flatMap(scans)];
}

const byIndex = (plan: string[], index: string) => plan.filter((s) => s.includes(` ${index}`));

/**
 * The relay claims several times a second for as long as the system runs. With `id IN (subquery)`,
 * statistics taken while a backlog waited made Postgres hash-join a sequential scan of the whole
 * table into every claim (23 ms a round at 120,000 events). These tests recreate such statistics
 * on tables of a size where the scan looks cheap to the planner, and read the plan it picks for
 * the statement the relay runs; the `IN (subquery)` forms of its two claims each failed this.
 */
describe('outbox claim plans against real Postgres', () => {
  let db: TestDatabase;
  let pool: Pool;

  async function planOf(statement: Statement): Promise<string[]> {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      // A custom plan for these very values, which is what an unnamed statement would run.
      const { rows } = await client.query({ text: `EXPLAIN (FORMAT JSON) ${statement.text}`, values: statement.values });
      return scans(rows[0]['QUERY PLAN'][0].Plan);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 2 });
    await migrateJobsSchema(pool);
    // 10,000 finished jobs with their events, then a backlog of 10,000 unpublished ones with 20,000 events, analysed
    // while it waits: the statistics a busy relay leaves behind.
    await pool.query(`
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
    await pool.query(`UPDATE jobs SET published_at = now() WHERE published_at IS NULL AND status = 'queued'
                        AND id NOT IN (SELECT id FROM jobs WHERE published_at IS NULL LIMIT 50)`);
    await pool.query(`UPDATE job_events SET published_at = now() WHERE published_at IS NULL
                        AND id NOT IN (SELECT id FROM job_events WHERE published_at IS NULL ORDER BY id LIMIT 50)`);
  }, 120_000);

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it('claims jobs and events through their unpublished indexes and primary keys, never a scan of a table', async () => {
    const plan = await planOf(claimBatch(500));
    expect(plan.filter((s) => s.startsWith('Seq Scan'))).toEqual([]);
    expect(plan).toContain('Index Scan jobs_unpublished on jobs');
    expect(plan).toContain('Index Scan job_events_unpublished on job_events');
    expect(byIndex(plan, 'jobs_pkey')).not.toEqual([]);
    expect(byIndex(plan, 'job_events_pkey')).not.toEqual([]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '@conveyor/platform';
import { migrateJobsSchema, type Queryable, type SubmitOutcome } from '@conveyor/jobs';
import { JobInserter } from '../src/job-inserter.js';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.js';

describe('JobInserter: concurrent submissions share an INSERT (real Postgres)', () => {
  let db: TestDatabase;
  let pool: Pool;
  const statements: string[] = [];
  /** The real pool, recording each statement it is sent. */
  let counted: Queryable;
  const stored = (outcome: SubmitOutcome) => {
    if (outcome.kind === 'refused') throw new Error('no quota was set: nothing may be refused');
    return outcome;
  };
  const job = (n: number, extra: Record<string, unknown> = {}) => ({ tenant: 'acme', owner: 'u1', type: 'noop', payload: { n }, ...extra });

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 4 });
    await migrateJobsSchema(pool);
    counted = {
      query: ((text: string, values?: unknown[]) => {
        statements.push(text);
        return pool.query(text, values);
      }) as Queryable['query'],
    };
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  it('stores 50 jobs submitted in one turn with one statement, each caller getting its own job', async () => {
    statements.length = 0;
    const inserter = new JobInserter(counted);
    const outcomes = (await Promise.all(Array.from({ length: 50 }, (_, n) => inserter.create(job(n))))).map(stored);
    expect(statements).toHaveLength(1);
    expect(new Set(outcomes.map((o) => o.jobId)).size).toBe(50);
    const { rows } = await pool.query<{ id: string; n: number }>("SELECT id, (payload->>'n')::int AS n FROM jobs WHERE id = ANY($1::uuid[])", [outcomes.map((o) => o.jobId)]);
    const byId = new Map(rows.map((r) => [r.id, r.n]));
    expect(outcomes.map((o) => byId.get(o.jobId))).toEqual(Array.from({ length: 50 }, (_, n) => n));
  });

  it('a job the database refuses fails alone; the rest of its batch is stored', async () => {
    const inserter = new JobInserter(counted);
    const results = await Promise.allSettled([inserter.create(job(1)), inserter.create(job(2, { maxAttempts: 0 })), inserter.create(job(3))]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/max_attempts/);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '@conveyor/platform';
import { createFlow, dependencyResults, migrateJobsSchema, type FlowJobSpec, type NewFlowStep } from '@conveyor/jobs';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.js';

/**
 * Migration 0022's trigger where it decides: steps of one flow ending in concurrent transactions
 * (two workers completing the two sides of a diamond at once) enqueue the step after them exactly
 * once, and a rolled-back end (a worker killed before its commit) advances nothing.
 */
describe('flows advanced by the jobs trigger in Postgres', () => {
  let db: TestDatabase;
  let pool: Pool;
  const spec: FlowJobSpec = { type: 'noop', payload: {}, priority: 0, maxAttempts: 3, timeoutSeconds: 30 };
  const step = (name: string, ...dependsOn: string[]): NewFlowStep => ({ name, dependsOn, job: spec });
  const stepsOf = async (flowId: string) =>
    Object.fromEntries(
      (await pool.query<{ name: string; status: string; job_id: string | null }>('SELECT name, status, job_id FROM flow_steps WHERE flow_id = $1', [flowId])).rows.map((r) => [
        r.name,
        r,
      ]),
    );
  const end = (jobId: string, result: unknown) =>
    `UPDATE jobs SET status = 'success', result = '${JSON.stringify(result)}'::jsonb, finished_at = now() WHERE id = '${jobId}'`;

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 10 });
    await migrateJobsSchema(pool);
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  it('enqueues the fan-in step once when its two dependencies end in concurrent transactions', async () => {
    const created = await createFlow(pool, { tenant: 't', owner: 'u', saga: false, steps: [step('a'), step('b', 'a'), step('c', 'a'), step('d', 'b', 'c')] });
    if (created.kind !== 'created') throw new Error('refused');
    expect(created.enqueued).toBe(1);
    await pool.query(end((await stepsOf(created.flowId)).a!.job_id!, { json: 'A' }));
    const middle = await stepsOf(created.flowId);
    expect([middle.b!.status, middle.c!.status, middle.d!.status]).toEqual(['running', 'running', 'waiting']);

    const [one, two] = await Promise.all([pool.connect(), pool.connect()]);
    try {
      await one.query('BEGIN');
      await two.query('BEGIN');
      await one.query(end(middle.b!.job_id!, { json: 'B' }));
      // Waits on the flow row the first transaction locked, then sees its end.
      const second = two.query(end(middle.c!.job_id!, { json: 'C' }));
      await new Promise((r) => setTimeout(r, 200));
      await one.query('COMMIT');
      await second;
      await two.query('COMMIT');
    } finally {
      one.release();
      two.release();
    }
    const after = await stepsOf(created.flowId);
    expect(after.d!.status).toBe('running');
    const jobs = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM jobs WHERE flow_id = $1 AND type = 'noop'", [created.flowId]);
    expect(jobs.rows[0]!.n).toBe(4);
    expect(await dependencyResults(pool, after.d!.job_id!)).toEqual({ b: { json: 'B' }, c: { json: 'C' } });

    await pool.query(end(after.d!.job_id!, { json: 'D' }));
    const flow = await pool.query<{ status: string }>('SELECT status FROM flows WHERE id = $1', [created.flowId]);
    expect(flow.rows[0]!.status).toBe('success');
  });

  it('advances nothing when the transaction ending a step rolls back', async () => {
    const created = await createFlow(pool, { tenant: 't', owner: 'u', saga: false, steps: [step('a'), step('b', 'a')] });
    if (created.kind !== 'created') throw new Error('refused');
    const a = (await stepsOf(created.flowId)).a!.job_id!;
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(end(a, { json: 1 }));
      expect((await client.query<{ n: number }>('SELECT count(*)::int AS n FROM jobs WHERE flow_id = $1', [created.flowId])).rows[0]!.n).toBe(2);
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    const steps = await stepsOf(created.flowId);
    expect([steps.a!.status, steps.b!.status, steps.b!.job_id]).toEqual(['running', 'waiting', null]);
    expect((await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM jobs WHERE flow_id = $1', [created.flowId])).rows[0]!.n).toBe(1);
  });

  it('writes nothing of a flow its tenant\'s submit quota refuses', async () => {
    await pool.query("INSERT INTO tenant_quotas (tenant, max_queued, updated_by) VALUES ('small', 2, 'test')");
    const before = (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM flows')).rows[0]!.n;
    const refused = await createFlow(pool, { tenant: 'small', owner: 'u', saga: false, steps: [step('a'), step('b'), step('c')] });
    expect(refused).toMatchObject({ kind: 'refused', limit: 'maxQueued' });
    expect((await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM flows')).rows[0]!.n).toBe(before);
  });
});

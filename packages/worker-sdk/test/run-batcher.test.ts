import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '@conveyor/platform';
import { createJob, migrateJobsSchema, readJob, setPoolPaused, type Queryable } from '@conveyor/jobs';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.js';
import { RunBatcher } from '../src/run-batcher.js';

describe('RunBatcher against real Postgres', () => {
  let db: TestDatabase;
  let pool: Pool;
  let statements = 0;
  // The real pool, counting the statements that reach it.
  const counted: Queryable = { query: ((...args: Parameters<Pool['query']>) => (statements++, pool.query(...args))) as Pool['query'] };

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 4 });
    await migrateJobsSchema(pool);
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  it('claims a received batch with one statement, runs a job delivered twice once, and completes together', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push((await createJob(pool, { tenant: 't', owner: 'o', type: 'noop', payload: { i } })).jobId);
    const runs = new RunBatcher(counted, 'worker-a', 30, 'default');

    statements = 0;
    const claimed = await Promise.all([...ids, ids[3]!].map((id) => runs.claim(id)));
    expect(statements).toBe(1);
    expect(claimed.slice(0, 10).map((job) => job?.jobId)).toEqual(ids);
    expect(claimed[10]).toBeUndefined();
    expect(await runs.claim(ids[0]!), 'a claimed job cannot be claimed again').toBeUndefined();

    statements = 0;
    const leases = claimed.slice(0, 10).map((job) => ({ jobId: job!.jobId, workerId: 'worker-a', attempt: job!.attempt }));
    const stolen = { ...leases[9]!, workerId: 'worker-b' };
    const done = await Promise.all([
      ...leases.slice(0, 9).map((lease, i) => runs.complete(lease, { result: { json: { i } }, resultKey: null })),
      runs.complete(stolen, { result: { json: null }, resultKey: null }),
    ]);
    expect(statements).toBe(1);
    expect(done).toEqual([...Array(9).fill(true), false]);

    const { rows } = await pool.query<{ id: string; status: string; result: unknown; events: string[] }>(
      `SELECT j.id, j.status, j.result, array_agg(e.type ORDER BY e.id) AS events
         FROM jobs j JOIN job_events e ON e.job_id = j.id WHERE j.id = ANY($1) GROUP BY j.id`,
      [ids],
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    ids.slice(0, 9).forEach((id, i) => expect(byId.get(id)).toMatchObject({ status: 'success', result: { json: { i } }, events: ['created', 'started', 'succeeded'] }));
    expect(byId.get(ids[9]!)).toMatchObject({ status: 'processing', events: ['created', 'started'] });
  });

  it('claims nothing of a paused pool, even for a worker that has not heard of the pause, and all of it after the resume', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await createJob(pool, { tenant: 't', owner: 'o', type: 'noop', payload: { i } })).jobId);
    const paused = new RunBatcher(pool, 'worker-p', 30, 'default');
    const other = new RunBatcher(pool, 'worker-o', 30, 'reports');

    expect(await setPoolPaused(pool, 'default', true, 'admin@example.com', 'deploy')).toMatchObject({ changed: true, control: { paused: true, pausedBy: 'admin@example.com', reason: 'deploy' } });
    expect((await setPoolPaused(pool, 'default', true, 'someone-else', null)).changed, 'a repeat changes nothing').toBe(false);
    expect(await Promise.all(ids.map((id) => paused.claim(id)))).toEqual([undefined, undefined, undefined]);
    expect(await readJob(pool, ids[0]!, 'default')).toMatchObject({ status: 'queued', attempts: 0, poolPaused: true });
    // Another pool's pause state is its own.
    expect(await readJob(pool, ids[0]!, 'reports')).toMatchObject({ poolPaused: false });
    expect(await other.claim(ids[0]!)).toMatchObject({ jobId: ids[0] });

    expect((await setPoolPaused(pool, 'default', false, 'admin@example.com', null)).control).toEqual({ paused: false, pausedBy: null, pausedAt: null, reason: null });
    expect((await Promise.all(ids.slice(1).map((id) => paused.claim(id)))).map((job) => job?.jobId)).toEqual(ids.slice(1));
    const { rows } = await pool.query<{ action: string; actor: string }>("SELECT action, actor FROM pool_control_events WHERE pool = 'default' ORDER BY id");
    expect(rows).toEqual([
      { action: 'paused', actor: 'admin@example.com' },
      { action: 'resumed', actor: 'admin@example.com' },
    ]);
  });
});

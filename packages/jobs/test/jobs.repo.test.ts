import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '@conveyor/platform';
import { createJob, migrateJobsSchema } from '@conveyor/jobs';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.js';

describe('createJob against real Postgres', () => {
  let db: TestDatabase;
  let pool: Pool;
  const base = { tenant: 'demo', owner: 'user-1', type: 'noop', payload: { a: 1, b: [1, 2] } };

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 25 });
    await migrateJobsSchema(pool);
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  it('stores a queued, unpublished job with its created event', async () => {
    const outcome = await createJob(pool, base);
    expect(outcome).toMatchObject({ kind: 'created', status: 'queued' });
    const { rows } = await pool.query('SELECT status, published_at, payload FROM jobs WHERE id = $1', [outcome.jobId]);
    expect(rows[0]).toEqual({ status: 'queued', published_at: null, payload: base.payload });
    const events = await pool.query('SELECT type FROM job_events WHERE job_id = $1', [outcome.jobId]);
    expect(events.rows).toEqual([{ type: 'created' }]);
  });

  it('schedules a job due later', async () => {
    const outcome = await createJob(pool, { ...base, runAt: new Date(Date.now() + 60_000) });
    expect(outcome).toMatchObject({ kind: 'created', status: 'scheduled' });
  });

  it('creates one job for 20 concurrent identical requests with one key; a different body conflicts', async () => {
    const request = { ...base, idempotencyKey: 'k-concurrent' };
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => createJob(pool, request)));
    const ids = new Set(outcomes.map((o) => o.jobId));
    expect(ids.size).toBe(1);
    expect(outcomes.filter((o) => o.kind === 'created')).toHaveLength(1);
    expect(outcomes.filter((o) => o.kind === 'replayed')).toHaveLength(19);
    // Key order in the payload does not make it a different request.
    const reordered = await createJob(pool, { ...request, payload: { b: [1, 2], a: 1 } });
    expect(reordered).toMatchObject({ kind: 'replayed', jobId: [...ids][0] });
    const conflict = await createJob(pool, { ...request, payload: { a: 2 } });
    expect(conflict).toMatchObject({ kind: 'conflict', jobId: [...ids][0] });
    const { rows } = await pool.query("SELECT count(*)::int AS n FROM jobs WHERE idempotency_key = 'k-concurrent'");
    expect(rows[0].n).toBe(1);
  });

  it('scopes idempotency keys to the tenant', async () => {
    const a = await createJob(pool, { ...base, idempotencyKey: 'shared' });
    const b = await createJob(pool, { ...base, tenant: 'other', idempotencyKey: 'shared' });
    expect(a.kind).toBe('created');
    expect(b.kind).toBe('created');
    expect(a.jobId).not.toBe(b.jobId);
  });
});

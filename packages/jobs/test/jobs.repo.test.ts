import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '@conveyor/platform';
import { createJob, createJobs, createJobsLaneLocked, migrateJobsSchema, requestHash } from '@conveyor/jobs';
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

  it('stores tags in a batch of jobs, each its own; they are part of the idempotency hash only when given', async () => {
    const [tagged, plain] = await createJobs(pool, [
      { ...base, tags: ['env:prod', 'team=a'], idempotencyKey: 'k-tags' },
      { ...base, idempotencyKey: 'k-plain' },
    ]);
    const { rows } = await pool.query('SELECT id, tags FROM jobs WHERE id = ANY($1) ORDER BY idempotency_key DESC', [[tagged!.jobId, plain!.jobId]]);
    expect(rows.map((r) => r.tags)).toEqual([['env:prod', 'team=a'], []]);
    // Tags in another order are the same request; other tags are another.
    expect(await createJob(pool, { ...base, tags: ['team=a', 'env:prod'], idempotencyKey: 'k-tags' })).toMatchObject({ kind: 'replayed', jobId: tagged!.jobId });
    expect(await createJob(pool, { ...base, tags: ['env:dev'], idempotencyKey: 'k-tags' })).toMatchObject({ kind: 'conflict' });
    // No tags and an empty list hash as a job stored before tags existed did.
    expect(requestHash({ ...base, tags: [] })).toBe(requestHash(base));
    expect(await createJob(pool, { ...base, tags: [], idempotencyKey: 'k-plain' })).toMatchObject({ kind: 'replayed', jobId: plain!.jobId });
  });

  it("stores a tenant's jobs past its threshold of waiting jobs in a pool as overflow, per tenant and pool", async () => {
    const job = (tenant: string, pool: string, extra: Record<string, unknown> = {}) => ({ tenant, owner: 'o', type: 'noop', payload: {}, pool, ...extra });
    const overflowOf = async (ids: string[]) =>
      (await pool.query<{ id: string; overflow: boolean }>('SELECT id, overflow FROM jobs WHERE id = ANY($1)', [ids])).rows.reduce(
        (map, r) => map.set(r.id, r.overflow),
        new Map<string, boolean>(),
      );
    const options = { overflowAfter: 3 };
    // One statement: its own jobs count in order, so the 4th and 5th pass the threshold of 3.
    const first = await createJobs(pool, [1, 2, 3, 4, 5].map(() => job('burst', 'p1')), undefined, options);
    const flags = await overflowOf(first.map((o) => o.jobId));
    expect(first.map((o) => flags.get(o.jobId))).toEqual([false, false, false, true, true]);
    // A later statement sees the 5 waiting: every further job overflows, a delayed one does not (it is not waiting).
    const later = await createJobs(pool, [job('burst', 'p1'), job('burst', 'p1', { runAt: new Date(Date.now() + 60_000) }), job('quiet', 'p1'), job('burst', 'p2')], undefined, options);
    const later2 = await overflowOf(later.map((o) => o.jobId));
    // Another tenant in the same pool, and the same tenant in another pool, are under their thresholds.
    expect(later.map((o) => later2.get(o.jobId))).toEqual([true, false, false, false]);
    // Jobs that stopped waiting no longer count.
    await pool.query("UPDATE jobs SET status = 'processing' WHERE tenant = 'burst' AND pool = 'p1'");
    const [next] = await createJobs(pool, [job('burst', 'p1')], undefined, options);
    expect((await overflowOf([next!.jobId])).get(next!.jobId)).toBe(false);
  });

  it("counts a tenant's batch after the one in progress under its lane lock: the threshold holds for the burst as a whole", async () => {
    const batch = () => Array.from({ length: 50 }, () => ({ tenant: 'concurrent', owner: 'o', type: 'noop', payload: {}, pool: 'p1' }));
    // A first batch stored and not yet committed, holding the tenant's lane lock as createJobsLaneLocked takes it.
    const first = await pool.connect();
    await first.query('BEGIN');
    await first.query("SELECT pg_advisory_xact_lock(hashtext('conveyor.lane:' || $1))", ['concurrent']);
    const firstIds = (await createJobs(first, batch(), undefined, { overflowAfter: 10 })).map((o) => o.jobId);
    const second = createJobsLaneLocked(pool, batch(), { overflowAfter: 10 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await first.query('COMMIT');
    first.release();
    const secondIds = (await second).flatMap((o) => ('jobId' in o ? [o.jobId] : []));
    const regular = async (ids: string[]) =>
      (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1) AND NOT overflow', [ids])).rows[0]!.n;
    expect(await regular(firstIds)).toBe(10);
    // It waited for the first to commit and counted its 50: all of it overflows. Without the lock
    // it would have counted none of them (uncommitted) and put 10 more in the regular lane.
    expect(await regular(secondIds)).toBe(0);
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

  it('stores a batch in one statement, outcomes in order; a key repeated inside the batch replays or conflicts with its first use', async () => {
    const later = new Date(Date.now() + 60_000);
    const outcomes = await createJobs(pool, [
      { ...base, payload: { n: 1 } },
      { ...base, idempotencyKey: 'batch-key', payload: { n: 2 } },
      { ...base, runAt: later, payload: { n: 3 }, priority: 5, maxAttempts: 7, timeoutSeconds: 9, callbackUrl: 'https://example.com/hook' },
      { ...base, idempotencyKey: 'batch-key', payload: { n: 2 } },
      { ...base, idempotencyKey: 'batch-key', payload: { n: 99 } },
      { ...base, tenant: 'other', idempotencyKey: 'batch-key', payload: { n: 2 } },
    ]);
    expect(outcomes.map((o) => o.kind)).toEqual(['created', 'created', 'created', 'replayed', 'conflict', 'created']);
    expect(outcomes[3]!.jobId).toBe(outcomes[1]!.jobId);
    expect(outcomes[4]!.jobId).toBe(outcomes[1]!.jobId);
    expect(outcomes[5]!.jobId).not.toBe(outcomes[1]!.jobId);
    expect(outcomes.map((o) => ('status' in o ? o.status : null))).toEqual(['queued', 'queued', 'scheduled', 'queued', null, 'queued']);
    const { rows } = await pool.query(
      `SELECT payload, priority, max_attempts, timeout_seconds, run_at, callback_url,
              (SELECT array_agg(type) FROM job_events e WHERE e.job_id = j.id) AS events
         FROM jobs j WHERE id = $1`,
      [outcomes[2]!.jobId],
    );
    expect(rows[0]).toEqual({ payload: { n: 3 }, priority: 5, max_attempts: 7, timeout_seconds: 9, run_at: later, callback_url: 'https://example.com/hook', events: ['created'] });
    const keyed = await pool.query("SELECT count(*)::int AS n FROM jobs WHERE idempotency_key = 'batch-key'");
    expect(keyed.rows[0].n).toBe(2);
  });

  it('fills options left out from the type’s defaults, which are not part of the request: a replay after a default changed is still a replay', async () => {
    const job = { ...base, idempotencyKey: 'defaults-key', typeVersion: 2, pool: 'default' };
    const first = await createJob(pool, { ...job, defaults: { priority: 4, maxAttempts: 6, timeoutSeconds: 30 } });
    const { rows } = await pool.query('SELECT priority, max_attempts, timeout_seconds, type_version, pool FROM jobs WHERE id = $1', [first.jobId]);
    expect(rows[0]).toEqual({ priority: 4, max_attempts: 6, timeout_seconds: 30, type_version: 2, pool: 'default' });
    const replay = await createJob(pool, { ...job, defaults: { priority: 0, maxAttempts: 9, timeoutSeconds: 60 } });
    expect(replay).toMatchObject({ kind: 'replayed', jobId: first.jobId });
    expect((await createJob(pool, { ...job, maxAttempts: 9 })).kind).toBe('conflict');
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '@conveyor/platform';
import { claimJobs, completeJobs, createJobs, migrateJobsSchema, readJob, holdOf, submitJobs, type NewJob } from '@conveyor/jobs';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.js';

/**
 * The limits of migration 0020 where they are enforced: the claim (tenant max running, concurrency
 * key) and the submit (max queued, submits per minute). Concurrent callers use connections of
 * their own, as several workers and api replicas do.
 */
describe('quotas and concurrency limits in Postgres', () => {
  let db: TestDatabase;
  let pool: Pool;
  let tenantNo = 0;
  const freshTenant = () => `t${++tenantNo}-${Date.now()}`;
  const job = (tenant: string, extra: Partial<NewJob> = {}): NewJob => ({ tenant, owner: 'u1', type: 'noop', payload: {}, ...extra });
  const setQuota = (tenant: string, q: { maxQueued?: number; maxRunning?: number; submitsPerMinute?: number }) =>
    pool.query(
      `INSERT INTO tenant_quotas (tenant, max_queued, max_running, submits_per_minute, updated_by) VALUES ($1, $2, $3, $4, 'test')
       ON CONFLICT (tenant) DO UPDATE SET max_queued = $2, max_running = $3, submits_per_minute = $4`,
      [tenant, q.maxQueued ?? null, q.maxRunning ?? null, q.submitsPerMinute ?? null],
    );
  const ids = (outcomes: ReadonlyArray<{ kind: string; jobId?: string }>) => outcomes.map((o) => o.jobId!);
  const running = async (tenant: string) =>
    (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs WHERE tenant = $1 AND status = 'processing'`, [tenant])).rows[0]!.n;

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 20 });
    await migrateJobsSchema(pool);
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  it('never starts more than a tenant\'s maxRunning, however many workers claim its jobs at once', async () => {
    const tenant = freshTenant();
    await setQuota(tenant, { maxRunning: 3 });
    const jobIds = ids(await createJobs(pool, Array.from({ length: 30 }, () => job(tenant))));
    // Eight workers each claim every job in batches of ten, shuffled, at the same moment.
    const claims = await Promise.all(
      Array.from({ length: 8 }, (_, w) => {
        const shuffled = [...jobIds].sort(() => Math.random() - 0.5);
        return Promise.all([0, 10, 20].map((at) => claimJobs(pool, shuffled.slice(at, at + 10), `w${w}`, 30, 'default')));
      }),
    );
    const won = claims.flat().reduce((n, claimed) => n + claimed.size, 0);
    expect(won).toBe(3);
    expect(await running(tenant)).toBe(3);
    const [waiting] = (await pool.query<{ id: string }>(`SELECT id FROM jobs WHERE tenant = $1 AND status = 'queued' LIMIT 1`, [tenant])).rows;
    expect(await holdOf(pool, waiting!.id)).toBe('tenant_concurrency_limit');

    // One finishes: exactly one more starts.
    const [first] = (await pool.query<{ id: string; locked_by: string }>(`SELECT id, locked_by FROM jobs WHERE tenant = $1 AND status = 'processing' LIMIT 1`, [tenant])).rows;
    await completeJobs(pool, [{ lease: { jobId: first!.id, workerId: first!.locked_by, attempt: 1 }, stored: { result: { json: 1 }, resultKey: null } }]);
    const again = await Promise.all([claimJobs(pool, jobIds.slice(0, 15), 'x1', 30, 'default'), claimJobs(pool, jobIds.slice(15), 'x2', 30, 'default')]);
    expect(again[0].size + again[1].size).toBe(1);
    expect(await running(tenant)).toBe(3);
  });

  it('a waiting job reads why: tenant_concurrency_limit, key_concurrency_limit, or nothing once a slot is free', async () => {
    const tenant = freshTenant();
    await setQuota(tenant, { maxRunning: 1 });
    const [a, b] = ids(await createJobs(pool, [job(tenant), job(tenant)]));
    expect(await holdOf(pool, b!)).toBeNull();
    expect((await claimJobs(pool, [a!], 'w', 30, 'default')).size).toBe(1);
    expect(await holdOf(pool, b!)).toBe('tenant_concurrency_limit');
    expect((await readJob(pool, b!, 'default'))!.startLimit).toBe('tenant_concurrency_limit');
    expect((await claimJobs(pool, [b!], 'w', 30, 'default')).size).toBe(0);

    const other = freshTenant();
    const [k1, k2, k3] = ids(
      await createJobs(pool, [
        job(other, { concurrencyKey: 'customer:1', concurrencyLimit: 1 }),
        job(other, { concurrencyKey: 'customer:1', concurrencyLimit: 1 }),
        job(other, { concurrencyKey: 'customer:2', concurrencyLimit: 1 }),
      ]),
    );
    const claimed = await claimJobs(pool, [k1!, k2!, k3!], 'w', 30, 'default');
    // One of customer:1's two, and customer:2's.
    expect(claimed.size).toBe(2);
    expect(claimed.has(k3!)).toBe(true);
    const held = claimed.has(k1!) ? k2! : k1!;
    expect((await readJob(pool, held, 'default'))!.startLimit).toBe('key_concurrency_limit');
  });

  it('holds a concurrency key across workers: at most its limit run, other keys and tenants are not held', async () => {
    const tenant = freshTenant();
    const keyed = ids(await createJobs(pool, Array.from({ length: 12 }, () => job(tenant, { concurrencyKey: 'report:acme', concurrencyLimit: 2 }))));
    const free = ids(await createJobs(pool, Array.from({ length: 4 }, () => job(tenant))));
    const all = [...keyed, ...free];
    const claims = await Promise.all(Array.from({ length: 6 }, (_, w) => claimJobs(pool, [...all].sort(() => Math.random() - 0.5), `w${w}`, 30, 'default')));
    const won = new Set(claims.flatMap((c) => [...c.keys()]));
    expect(keyed.filter((id) => won.has(id))).toHaveLength(2);
    expect(free.filter((id) => won.has(id))).toHaveLength(4);
  });

  it('a stale run taken over keeps its slot, and a run that ended frees it', async () => {
    const tenant = freshTenant();
    await setQuota(tenant, { maxRunning: 1 });
    const [a, b] = ids(await createJobs(pool, [job(tenant), job(tenant)]));
    await claimJobs(pool, [a!], 'dead-worker', 30, 'default');
    // The worker died: its heartbeat lapsed. Another worker takes the run over, at the limit.
    await pool.query(`UPDATE jobs SET heartbeat_at = now() - interval '1 hour' WHERE id = $1`, [a]);
    expect([...(await claimJobs(pool, [a!, b!], 'w2', 30, 'default')).keys()]).toEqual([a]);
    // The reconciler's recovery (processing -> queued) frees the slot for the other job.
    await pool.query(`UPDATE jobs SET status = 'queued', heartbeat_at = NULL, locked_by = NULL WHERE id = $1`, [a]);
    expect([...(await claimJobs(pool, [b!], 'w3', 30, 'default')).keys()]).toEqual([b]);
  });

  it('maxQueued: coalesced submits take the room left in order; a whole batch takes it all or nothing', async () => {
    const tenant = freshTenant();
    await setQuota(tenant, { maxQueued: 5 });
    await createJobs(pool, [job(tenant), job(tenant)]);
    const outcomes = await submitJobs(pool, Array.from({ length: 5 }, () => job(tenant)), 'each');
    expect(outcomes.map((o) => o.kind)).toEqual(['created', 'created', 'created', 'refused', 'refused']);
    expect(outcomes[4]).toMatchObject({ kind: 'refused', limit: 'maxQueued' });
    expect((outcomes[4] as { retryAfterSeconds: number }).retryAfterSeconds).toBeGreaterThanOrEqual(1);

    const second = freshTenant();
    await setQuota(second, { maxQueued: 3 });
    expect((await submitJobs(pool, Array.from({ length: 4 }, () => job(second)), 'whole')).map((o) => o.kind)).toEqual(['refused', 'refused', 'refused', 'refused']);
    const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM jobs WHERE tenant = $1', [second]);
    expect(rows[0]!.n).toBe(0);
    // Another tenant in the same statement is not held back.
    const mixed = await submitJobs(pool, [job(second), job(freshTenant()), job(second), job(second), job(second)], 'each');
    expect(mixed.map((o) => o.kind)).toEqual(['created', 'created', 'created', 'created', 'refused']);
  });

  it('maxQueued holds against many api replicas submitting at once', async () => {
    const tenant = freshTenant();
    await setQuota(tenant, { maxQueued: 10 });
    const outcomes = (await Promise.all(Array.from({ length: 15 }, () => submitJobs(pool, [job(tenant), job(tenant)], 'each')))).flat();
    expect(outcomes.filter((o) => o.kind === 'created')).toHaveLength(10);
    const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM jobs WHERE tenant = $1', [tenant]);
    expect(rows[0]!.n).toBe(10);
  });

  it('submitsPerMinute: refused past the limit with the seconds until the oldest submit leaves the window; a replay is still a replay', async () => {
    const tenant = freshTenant();
    await setQuota(tenant, { submitsPerMinute: 3 });
    const [first] = ids(await submitJobs(pool, [job(tenant, { idempotencyKey: 'k1' })], 'each'));
    // The first submit was 40 s ago: it leaves the window in about 20 s.
    await pool.query(`UPDATE jobs SET created_at = now() - interval '40 seconds' WHERE id = $1`, [first]);
    const outcomes = await submitJobs(pool, [job(tenant), job(tenant), job(tenant)], 'each');
    expect(outcomes.map((o) => o.kind)).toEqual(['created', 'created', 'refused']);
    const refused = outcomes[2] as { limit: string; retryAfterSeconds: number };
    expect(refused.limit).toBe('submitsPerMinute');
    expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(18);
    expect(refused.retryAfterSeconds).toBeLessThanOrEqual(21);
    expect((await submitJobs(pool, [job(tenant, { idempotencyKey: 'k1' })], 'each'))[0]).toMatchObject({ kind: 'replayed' });
    // More than the limit in one batch can never fit: a minute.
    const other = freshTenant();
    await setQuota(other, { submitsPerMinute: 2 });
    expect((await submitJobs(pool, [job(other), job(other), job(other)], 'whole'))[0]).toMatchObject({ kind: 'refused', retryAfterSeconds: 60 });
  });

  it('a rate-limit key starts at most its limit per second across workers, and the rest after that second', async () => {
    const tenant = freshTenant();
    const keyed = ids(await createJobs(pool, Array.from({ length: 10 }, () => job(tenant, { rateLimitKey: 'api.example.com', rateLimitPerSecond: 3 }))));
    const claimAll = () => Promise.all(Array.from({ length: 4 }, (_, w) => claimJobs(pool, [...keyed].sort(() => Math.random() - 0.5), `w${w}`, 30, 'default')));
    const first = (await claimAll()).reduce((n, c) => n + c.size, 0);
    expect(first).toBe(3);
    const [held] = (await pool.query<{ id: string }>(`SELECT id FROM jobs WHERE tenant = $1 AND status = 'queued' LIMIT 1`, [tenant])).rows;
    expect(await holdOf(pool, held!.id)).toBe('rate_limited');
    await new Promise((r) => setTimeout(r, 1_100));
    expect(await holdOf(pool, held!.id)).toBeNull();
    expect((await claimAll()).reduce((n, c) => n + c.size, 0)).toBe(3);
    // The starts by the database's clock: no second holds more than three.
    const { rows } = await pool.query<{ at: Date }>('SELECT started_at AS at FROM jobs WHERE tenant = $1 AND started_at IS NOT NULL ORDER BY started_at', [tenant]);
    const times = rows.map((r) => r.at.getTime());
    expect(times).toHaveLength(6);
    for (let i = 3; i < times.length; i++) expect(times[i]! - times[i - 3]!).toBeGreaterThanOrEqual(1_000);
  });

  it('a tenant without a quota is never refused and its claims are not held', async () => {
    const tenant = freshTenant();
    const outcomes = await submitJobs(pool, Array.from({ length: 50 }, () => job(tenant)), 'whole');
    expect(outcomes.every((o) => o.kind === 'created')).toBe(true);
    expect((await claimJobs(pool, ids(outcomes), 'w', 30, 'default')).size).toBe(50);
  });
});

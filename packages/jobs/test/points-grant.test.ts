import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '@conveyor/platform';
import { createJob, jobType, migrateJobsSchema, PermanentJobError } from '@conveyor/jobs';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.js';
import { handlerContext } from './handler-context.js';

describe('points.grant handler against real Postgres', () => {
  let db: TestDatabase;
  let pool: Pool;
  const grant = jobType('points.grant')!;

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 20 });
    await migrateJobsSchema(pool);
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  const balance = async (tenant: string, user: string) =>
    Number((await pool.query('SELECT balance FROM points_balances WHERE tenant = $1 AND user_id = $2', [tenant, user])).rows[0]?.balance ?? 0);

  it('adds a reservation once however often it runs, even concurrently', async () => {
    const payload = { reservationId: randomUUID(), userId: 'u1', amount: 25 };
    const results = await Promise.all(Array.from({ length: 10 }, () => grant.handle(payload, handlerContext(pool))));
    const granted = results.filter((r) => (r as { json: { granted: boolean } }).json.granted);
    expect(granted).toHaveLength(1);
    expect(await balance('demo', 'u1')).toBe(25);
    await grant.handle({ ...payload, reservationId: randomUUID(), amount: 5 }, handlerContext(pool));
    expect(await balance('demo', 'u1')).toBe(30);
    const again = await grant.handle(payload, handlerContext(pool));
    expect(again).toEqual({ json: { reservationId: payload.reservationId, userId: 'u1', amount: 25, granted: false, balance: 30 } });
  });

  it('keeps tenants apart', async () => {
    await grant.handle({ reservationId: randomUUID(), userId: 'shared', amount: 3 }, handlerContext(pool, 'a'));
    await grant.handle({ reservationId: randomUUID(), userId: 'shared', amount: 4 }, handlerContext(pool, 'b'));
    expect([await balance('a', 'shared'), await balance('b', 'shared')]).toEqual([3, 4]);
  });

  it('refuses, permanently and without side effects, a grant that contradicts its reservation', async () => {
    const job = await createJob(pool, { tenant: 'demo', owner: 'o', type: 'points.grant', payload: {} });
    const reservationId = randomUUID();
    await pool.query(
      `INSERT INTO points_reservations (id, tenant, user_id, amount, execute_at, job_id) VALUES ($1, 'demo', 'u2', 10, now(), $2)`,
      [reservationId, job.jobId],
    );
    await expect(grant.handle({ reservationId, userId: 'u2', amount: 11 }, handlerContext(pool))).rejects.toBeInstanceOf(PermanentJobError);
    expect(await balance('demo', 'u2')).toBe(0);
    await grant.handle({ reservationId, userId: 'u2', amount: 10 }, handlerContext(pool));
    expect(await balance('demo', 'u2')).toBe(10);
  });
});

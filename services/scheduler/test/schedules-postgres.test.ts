import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '@conveyor/platform';
import { migrateJobsSchema } from '@conveyor/jobs';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.js';
import { infra } from '../../../test/support/infra.js';
import { startService, type RunningService } from '../../../test/support/service-process.js';
import { readUntil } from '../../../test/support/wait.js';
import { scheduleJobsRepo } from '../src/schedules/schedule-jobs.repo.js';
import { fireKeyPrefix, triggerIdempotencyKey } from '../src/schedules/job-schedule.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * SCHEDULES_SOURCE=postgres: the scheduler's leader follows the `schedules` table (migration 0015)
 * without a restart. The periodic resync is set to 10 minutes, so every change below is heard
 * through the trigger's NOTIFY alone.
 */
describe('JobSchedules from the schedules table', () => {
  let db: TestDatabase;
  let pool: Pool;
  let scheduler: RunningService | undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 5 });
    await migrateJobsSchema(pool);
  });
  afterAll(async () => {
    await scheduler?.stop('SIGKILL');
    await pool.end();
    await db.drop();
  });

  const insert = (uid: string, tenant: string, name: string, spec: Record<string, unknown>) =>
    pool.query(`INSERT INTO schedules (uid, tenant, name, spec, created_by) VALUES ($1, $2, $3, $4, 'test')`, [uid, tenant, name, JSON.stringify(spec)]);
  const setSpec = (uid: string, spec: Record<string, unknown>) =>
    pool.query('UPDATE schedules SET spec = $2, generation = generation + 1 WHERE uid = $1', [uid, JSON.stringify(spec)]);
  const runs = async (uid: string) =>
    (await pool.query<{ key: string; tenant: string; owner: string }>(
      `SELECT idempotency_key AS key, tenant, owner FROM jobs WHERE idempotency_key LIKE $1 ORDER BY idempotency_key`,
      [`schedule:${uid}:%`],
    )).rows;
  const status = async (uid: string) =>
    (await pool.query<{ status: { lastJobId?: string; conditions?: Array<{ type: string; status: string; reason: string }> } }>('SELECT status FROM schedules WHERE uid = $1', [uid])).rows[0]?.status;
  /** The count once no fire is in flight (one may be when the spec changes). */
  const settled = async (uid: string) => {
    let before = (await runs(uid)).length;
    for (;;) {
      await sleep(1_500);
      const after = (await runs(uid)).length;
      if (after === before) return after;
      before = after;
    }
  };

  it('fires rows as they are added, follows suspend, resume and delete, and writes status to the row', async () => {
    const tick = randomUUID();
    const broken = randomUUID();
    await insert(tick, 'acme', 'tick', { schedule: '* * * * * *', jobType: 'noop', payload: {} });
    scheduler = await startService('scheduler', {
      DATABASE_URL: db.url,
      KAFKA_BROKERS: infra.kafkaBrokers.join(','),
      SCHEDULES_SOURCE: 'postgres',
      SCHEDULES_RESYNC_MS: '600000',
      RECONCILE_INTERVAL_MS: '60000',
    });
    const first = await readUntil('fires of the row present at start', () => runs(tick), (r) => r.length >= 2, 20_000);
    expect(first[0]).toMatchObject({ tenant: 'acme', owner: 'schedule:acme/tick' });
    const ready = await readUntil('status written to the row', () => status(tick), (s) => Boolean(s?.lastJobId), 10_000);
    expect(ready?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True', reason: 'Scheduled' });

    // Added while running: heard through NOTIFY (the resync is 10 minutes away).
    const late = randomUUID();
    await insert(late, 'globex', 'late', { schedule: '* * * * * *', jobType: 'noop', payload: {} });
    await readUntil('fires of a row added later', () => runs(late), (r) => r.length >= 1, 10_000);
    await insert(broken, 'acme', 'broken', { schedule: '99 * * * *', jobType: 'noop' });
    const invalid = await readUntil('InvalidSpec status', () => status(broken), (s) => Boolean(s?.conditions?.length), 10_000);
    expect(invalid?.conditions?.find((c) => c.type === 'InvalidSpec')).toMatchObject({ status: 'True' });

    // Suspended: no more fires; resumed: fires again.
    await setSpec(tick, { schedule: '* * * * * *', jobType: 'noop', payload: {}, suspend: true });
    const paused = await settled(tick);
    await sleep(2_000);
    expect((await runs(tick)).length).toBe(paused);
    expect((await status(tick))?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ reason: 'Suspended' });
    await setSpec(tick, { schedule: '* * * * * *', jobType: 'noop', payload: {}, suspend: false });
    await readUntil('fires after resume', () => runs(tick), (r) => r.length > paused, 10_000);

    // Deleted: no more fires; the jobs it made stay.
    await pool.query('DELETE FROM schedules WHERE uid = $1', [late]);
    const gone = await settled(late);
    await sleep(2_000);
    expect((await runs(late)).length).toBe(gone);
    expect(gone).toBeGreaterThan(0);
    expect(scheduler.output()).toMatch(/JobSchedule removed/);
    await scheduler.stopCleanly();
    scheduler = undefined;
  });

  it('seeds the last fire from fires only: a later trigger-now does not move the cron times', async () => {
    const uid = randomUUID();
    const jobs = scheduleJobsRepo(pool);
    const fire = await jobs.fire({ tenant: 'acme', owner: 'o', jobType: 'noop', payload: {}, idempotencyKey: `${fireKeyPrefix(uid)}2030-01-01T02:00:00.000Z` });
    await jobs.fire({ tenant: 'acme', owner: 'o', jobType: 'noop', payload: {}, idempotencyKey: triggerIdempotencyKey(uid, new Date('2030-01-01T09:00:00Z')) });
    expect(await jobs.lastFire('acme', fireKeyPrefix(uid))).toEqual({ fireTime: new Date('2030-01-01T02:00:00.000Z'), jobId: fire.jobId });
  });
});

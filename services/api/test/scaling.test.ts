import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayAs, startApi, type ApiUnderTest } from './support/api-under-test.js';

/**
 * GET /scaling/pools/{name} on the api's ops port, which KEDA's metrics-api trigger reads: desired
 * workers from the pool's waiting jobs weighed by their type's recent run time, running jobs,
 * cron fires due soon and the pause switch, against a real api process and Postgres.
 */
describe("a pool's desired workers for KEDA", () => {
  let env: ApiUnderTest;
  let admin: ReturnType<typeof gatewayAs>;

  beforeAll(async () => {
    env = await startApi();
    admin = gatewayAs(env.api.url, { tenant: 'ops', subject: 'admin', scopes: 'jobs:read jobs:write conveyor:admin' });
  });
  afterAll(async () => {
    await env?.stop();
  });

  const scaling = async (pool: string, query = 'concurrency=8&targetDrainSeconds=60&leadSeconds=0') => {
    const res = await fetch(`${env.api.opsUrl}/scaling/pools/${pool}?${query}`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> & { desiredWorkers: number } };
  };

  /** Jobs of a type as the pipeline leaves them: finished ones ran `runSeconds`, waiting ones are due. */
  async function seed(type: string, count: number, status: 'queued' | 'success' | 'processing', runSeconds = 0): Promise<void> {
    await env.pool.query(
      `INSERT INTO jobs (id, tenant, owner, type, payload, status, created_at, started_at, finished_at)
       SELECT gen_random_uuid(), 'seed', 'u', $2, '{}', $3::text, now() - interval '2 minutes',
              CASE WHEN $3::text = 'queued' THEN NULL ELSE now() - make_interval(secs => 5 + $4::float8) END,
              CASE WHEN $3::text = 'success' THEN now() - interval '5 seconds' END
         FROM generate_series(1, $1)`,
      [count, type, status, runSeconds],
    );
  }

  it('gives the slow pool more workers than the fast one at the same depth', async () => {
    expect((await scaling('reports')).body.desiredWorkers).toBe(0);
    await seed('report.generate', 50, 'success', 30);
    await seed('noop', 50, 'success', 0.05);
    await seed('report.generate', 200, 'queued');
    await seed('noop', 200, 'queued');

    const slow = await scaling('reports');
    const fast = await scaling('default');
    expect(slow.status).toBe(200);
    // 200 waiting x 30 s over 60 s = 100 slots, 8 a worker.
    expect(slow.body).toMatchObject({ pool: 'reports', desiredWorkers: 13, processing: 0 });
    expect(slow.body.waitingWorkSeconds as number).toBeCloseTo(6000, 0);
    expect(fast.body.desiredWorkers).toBe(1);
    // A shorter target drain time asks for more.
    expect((await scaling('reports', 'concurrency=8&targetDrainSeconds=30')).body.desiredWorkers).toBe(25);
  });

  it('pre-scales a pool for a cron fire due within the lead time, not for one beyond it', async () => {
    const created = await admin('/schedules', {
      method: 'POST',
      body: { name: 'hourly-noop', schedule: '0 * * * *', jobType: 'noop', payload: {} },
    });
    expect(created.status).toBe(201);
    await env.pool.query(`DELETE FROM jobs WHERE type = 'noop' AND status = 'queued'`);
    expect((await scaling('default', 'concurrency=8&leadSeconds=0')).body.desiredWorkers).toBe(0);
    const ahead = await scaling('default', 'concurrency=8&leadSeconds=3600');
    expect(ahead.body.desiredWorkers).toBe(1);
    expect(ahead.body.upcomingFires).toEqual([expect.objectContaining({ schedule: 'hourly-noop', tenant: 'ops', jobType: 'noop' })]);

    const paused = await admin('/schedules/hourly-noop/pause', { method: 'POST' });
    expect(paused.status).toBe(200);
    expect((await scaling('default', 'concurrency=8&leadSeconds=3600')).body.desiredWorkers).toBe(0);
  });

  it('keeps workers for running jobs only while the pool is paused', async () => {
    await seed('report.generate', 9, 'processing');
    // 100 slots for the waiting work and 9 running: 109, 8 a worker.
    expect((await scaling('reports')).body.desiredWorkers).toBe(14);
    expect((await admin('/pools/reports/pause', { method: 'POST', body: {} })).status).toBe(200);
    expect((await scaling('reports')).body).toMatchObject({ desiredWorkers: 2, paused: true });
    expect((await admin('/pools/reports/resume', { method: 'POST', body: {} })).status).toBe(200);
  });

  it('refuses a bad query with the reason and an unknown pool with 404', async () => {
    const bad = await scaling('reports', 'concurrency=0');
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('concurrency');
    expect((await scaling('reports', 'targetDrainSeconds=60')).status).toBe(400);
    expect((await scaling('nope')).status).toBe(404);
    expect((await scaling('Not%20A%20Pool')).status).toBe(404);
  });
});

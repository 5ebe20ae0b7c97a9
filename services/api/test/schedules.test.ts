import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { gatewayAs, startApi, type ApiUnderTest } from './support/api-under-test.js';

interface Run { jobId: string; status: string; trigger: string; fireTime: string | null }
interface Schedule {
  name: string;
  tenant: string;
  schedule: string;
  timeZone: string | null;
  jobType: string;
  payload: unknown;
  suspend: boolean;
  concurrencyPolicy: string;
  startingDeadlineSeconds: number | null;
  nextFireTimes: string[];
  lastRuns: Run[];
  scheduler: unknown;
}

/** /schedules on the `schedules` table, through a real api process and Postgres (the gateway played by gatewayAs). */
describe('/schedules on Postgres', () => {
  let env: ApiUnderTest;
  let acme: ReturnType<typeof gatewayAs>;
  let globex: ReturnType<typeof gatewayAs>;
  let admin: ReturnType<typeof gatewayAs>;

  beforeAll(async () => {
    env = await startApi({ SCHEDULES_SOURCE: 'postgres' });
    acme = gatewayAs(env.api.url, { tenant: 'acme', subject: 'ann@acme' });
    globex = gatewayAs(env.api.url, { tenant: 'globex', subject: 'gus@globex' });
    admin = gatewayAs(env.api.url, { tenant: 'ops', subject: 'root@ops', scopes: 'jobs:read jobs:write conveyor:admin' });
  });
  afterAll(() => env?.stop());

  const json = async <T = Schedule>(res: Response) => ({ status: res.status, body: (await res.json()) as T });
  const generation = async (tenant: string, name: string) =>
    (await env.pool.query<{ generation: number }>('SELECT generation FROM schedules WHERE tenant = $1 AND name = $2', [tenant, name])).rows[0]?.generation;

  it('creates a schedule and answers it with its next fire times and no runs yet', async () => {
    const before = Date.now();
    const { status, body } = await json(await acme('/schedules', { method: 'POST', body: { name: 'tick', schedule: '*/5 * * * * *', jobType: 'noop' } }));
    expect(status).toBe(201);
    expect(body).toMatchObject({ name: 'tick', tenant: 'acme', schedule: '*/5 * * * * *', timeZone: null, jobType: 'noop', payload: {}, suspend: false, concurrencyPolicy: 'Allow', lastRuns: [], scheduler: null });
    expect(body.nextFireTimes).toHaveLength(5);
    const times = body.nextFireTimes.map(Date.parse);
    expect(times[0]).toBeGreaterThan(before);
    for (let i = 1; i < 5; i++) expect(times[i]! - times[i - 1]!).toBe(5_000);

    const { body: one } = await json(await acme('/schedules/tick'));
    expect(one.name).toBe('tick');
    const { body: list } = await json<{ items: Schedule[] }>(await acme('/schedules'));
    expect(list.items.map((s) => s.name)).toEqual(['tick']);
  });

  it('refuses what cannot run with 422 and the reason, a bad body with 400, a taken name with 409', async () => {
    const create = async (body: unknown) => json<{ error: string; details?: Array<{ path: string[] }> }>(await acme('/schedules', { method: 'POST', body }));
    const badCron = await create({ name: 'bad', schedule: '99 * * * *', jobType: 'noop' });
    expect(badCron.status).toBe(422);
    expect(badCron.body.error).toMatch(/schedule/);
    expect(badCron.body.details?.[0]?.path).toEqual(['schedule']);
    const badZone = await create({ name: 'bad', schedule: '0 * * * *', timeZone: 'Mars/Olympus', jobType: 'noop' });
    expect(badZone.status).toBe(422);
    expect(badZone.body.error).toMatch(/timeZone|Mars/);
    const unknownType = await create({ name: 'bad', schedule: '0 * * * *', jobType: 'no.such.type' });
    expect(unknownType).toMatchObject({ status: 422, body: { error: 'unknown job type "no.such.type"' } });
    const badPayload = await create({ name: 'bad', schedule: '0 * * * *', jobType: 'sleep', payload: { ms: 'long' } });
    expect(badPayload.status).toBe(422);
    expect(badPayload.body.error).toMatch(/payload does not match/);
    expect((await create({ name: 'Bad Name', schedule: '0 * * * *', jobType: 'noop' })).status).toBe(400);
    expect((await create({ name: 'bad', schedule: '0 * * * *', jobType: 'noop', extra: 1 })).status).toBe(400);
    expect((await create({ name: 'bad', schedule: '0 * * * *' })).status).toBe(400);
    const taken = await create({ name: 'tick', schedule: '0 * * * *', jobType: 'noop' });
    expect(taken).toMatchObject({ status: 409, body: { error: 'schedule "tick" already exists' } });
    expect((await acme('/schedules', { method: 'POST', rawBody: '{', headers: { 'content-type': 'application/json' } })).status).toBe(400);
    expect((await acme('/schedules', { method: 'POST', rawBody: 'x', headers: { 'content-type': 'text/plain' } })).status).toBe(415);
    const { rows } = await env.pool.query("SELECT name FROM schedules WHERE name = 'bad'");
    expect(rows).toHaveLength(0);
  });

  it('updates, pauses and resumes: idempotent, a change bumps the generation the scheduler follows', async () => {
    await acme('/schedules', { method: 'POST', body: { name: 'nightly', schedule: '0 2 * * *', timeZone: 'Europe/Berlin', jobType: 'sleep', payload: { ms: 1 }, startingDeadlineSeconds: 60 } });
    const g0 = await generation('acme', 'nightly');
    const patched = await json(await acme('/schedules/nightly', { method: 'PATCH', body: { schedule: '30 3 * * *', timeZone: null } }));
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ schedule: '30 3 * * *', timeZone: null, jobType: 'sleep', payload: { ms: 1 }, startingDeadlineSeconds: 60 });
    expect(patched.body.nextFireTimes[0]).toMatch(/T03:30:00\.000Z$/);
    expect(await generation('acme', 'nightly')).toBe(g0! + 1);
    // The same values again: nothing written.
    expect((await acme('/schedules/nightly', { method: 'PATCH', body: { schedule: '30 3 * * *' } })).status).toBe(200);
    expect(await generation('acme', 'nightly')).toBe(g0! + 1);
    expect((await acme('/schedules/nightly', { method: 'PATCH', body: { schedule: 'nope' } })).status).toBe(422);
    expect((await acme('/schedules/nightly', { method: 'PATCH', body: { name: 'renamed' } })).status).toBe(400);

    const paused = await json(await acme('/schedules/nightly/pause', { method: 'POST' }));
    expect(paused.body).toMatchObject({ suspend: true, nextFireTimes: [] });
    expect((await json(await acme('/schedules/nightly/pause', { method: 'POST', body: {} }))).body.suspend).toBe(true);
    expect(await generation('acme', 'nightly')).toBe(g0! + 2);
    expect((await acme('/schedules/nightly/pause', { method: 'POST', body: { reason: 'x' } })).status).toBe(400);
    const resumed = await json(await acme('/schedules/nightly/resume', { method: 'POST' }));
    expect(resumed.body).toMatchObject({ suspend: false });
    expect(resumed.body.nextFireTimes).toHaveLength(5);
  });

  it('triggers now: one job at once, listed among the runs as manual, even while paused', async () => {
    await acme('/schedules/nightly/pause', { method: 'POST' });
    const res = await acme('/schedules/nightly/trigger', { method: 'POST' });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { jobId: string; statusUrl: string; schedule: Schedule };
    expect(res.headers.get('location')).toBe(`/jobs/${body.jobId}`);
    expect(body.schedule.lastRuns[0]).toMatchObject({ jobId: body.jobId, trigger: 'manual', fireTime: null, status: 'running' });
    const { rows } = await env.pool.query<{ tenant: string; type: string; owner: string; payload: unknown }>('SELECT tenant, type, owner, payload FROM jobs WHERE id = $1', [body.jobId]);
    expect(rows[0]).toMatchObject({ tenant: 'acme', type: 'sleep', owner: 'schedule:acme/nightly', payload: { ms: 1 } });
    // The tenant's own job, readable as any other (202: not finished, no worker runs here).
    const job = await json<{ status: string; type: string }>(await acme(`/jobs/${body.jobId}`));
    expect(job).toMatchObject({ status: 202, body: { type: 'sleep' } });

    // A fire the scheduler made is a run too, with its fire time; newest first.
    const { rows: [s] } = await env.pool.query<{ uid: string }>("SELECT uid FROM schedules WHERE tenant = 'acme' AND name = 'nightly'");
    await env.pool.query(
      `INSERT INTO jobs (id, tenant, owner, type, payload, status, idempotency_key, request_hash, created_at, finished_at)
       VALUES (gen_random_uuid(), 'acme', 'schedule:acme/nightly', 'sleep', '{}', 'success', $1, 'h', now() - interval '1 hour', now() - interval '59 minutes')`,
      [`schedule:${s!.uid}:2030-01-01T03:30:00.000Z`],
    );
    const { body: after } = await json(await acme('/schedules/nightly'));
    expect(after.lastRuns.map((r) => [r.trigger, r.status, r.fireTime])).toEqual([
      ['manual', 'running', null],
      ['schedule', 'success', '2030-01-01T03:30:00.000Z'],
    ]);
  });

  it('keeps tenants apart: another tenant gets 404 everywhere; conveyor:admin sees and reaches every tenant', async () => {
    for (const [method, path] of [['GET', '/schedules/nightly'], ['PATCH', '/schedules/nightly'], ['DELETE', '/schedules/nightly'], ['POST', '/schedules/nightly/pause'], ['POST', '/schedules/nightly/resume'], ['POST', '/schedules/nightly/trigger'], ['GET', '/schedules/nightly?tenant=acme']] as const) {
      const res = await globex(path, { method, ...(method === 'PATCH' ? { body: { suspend: true } } : {}) });
      expect(res.status, `${method} ${path}`).toBe(404);
    }
    expect((await json<{ items: Schedule[] }>(await globex('/schedules'))).body.items).toEqual([]);
    expect((await globex('/schedules?tenant=acme')).status).toBe(403);
    // The same name in another tenant is another schedule.
    expect((await globex('/schedules', { method: 'POST', body: { name: 'nightly', schedule: '0 1 * * *', jobType: 'noop' } })).status).toBe(201);
    expect((await json(await acme('/schedules/nightly'))).body.schedule).toBe('30 3 * * *');

    const all = await json<{ items: Schedule[] }>(await admin('/schedules'));
    expect(all.body.items.map((s) => `${s.tenant}/${s.name}`)).toEqual(['acme/nightly', 'acme/tick', 'globex/nightly']);
    expect((await json<{ items: Schedule[] }>(await admin('/schedules?tenant=globex'))).body.items.map((s) => s.name)).toEqual(['nightly']);
    expect((await json(await admin('/schedules/nightly?tenant=globex'))).body.schedule).toBe('0 1 * * *');
    expect((await admin('/schedules/nightly')).status).toBe(404);
    expect((await json(await admin('/schedules/nightly/pause?tenant=globex', { method: 'POST' }))).body.suspend).toBe(true);
    expect((await acme('/schedules?bogus=1')).status).toBe(400);
  });

  it('deletes: 204, then 404; the jobs it made stay; NOTIFY tells the scheduler of every change', async () => {
    const listener = new pg.Client({ connectionString: env.db.url });
    await listener.connect();
    const heard: string[] = [];
    listener.on('notification', (n) => heard.push(n.payload ?? ''));
    await listener.query('LISTEN conveyor_schedules');
    const { rows: [s] } = await env.pool.query<{ uid: string }>("SELECT uid FROM schedules WHERE tenant = 'acme' AND name = 'nightly'");
    expect((await acme('/schedules/nightly', { method: 'DELETE' })).status).toBe(204);
    expect((await acme('/schedules/nightly', { method: 'DELETE' })).status).toBe(404);
    expect((await acme('/schedules/nightly')).status).toBe(404);
    expect((await acme('/schedules/Not_A_Name')).status).toBe(404);
    const { rows } = await env.pool.query('SELECT 1 FROM jobs WHERE idempotency_key LIKE $1', [`schedule:${s!.uid}:%`]);
    expect(rows.length).toBe(2);
    await expect.poll(() => heard).toContain(s!.uid);
    // A status write by the scheduler is no change of the schedule: not announced.
    heard.length = 0;
    await env.pool.query(`UPDATE schedules SET status = '{"lastJobId":"x"}' WHERE tenant = 'acme' AND name = 'tick'`);
    await new Promise((r) => setTimeout(r, 300));
    expect(heard).toEqual([]);
    await listener.end();
  });
});

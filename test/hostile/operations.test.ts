import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startPlatform, type Platform } from '../support/platform.js';
import { ConveyorClient } from '../e2e/client.js';
import { createTokenKit } from './tokens.js';

const TENANT = 'hostile-ops';
/** Jobs per minute per principal here: a batch of 1,000 fits, 600 more do not. */
const SUSTAINED = 1500;

/**
 * The operations API (issue 22) against a hostile tenant: malformed, missing, conflicting and
 * too-large requests get a 4xx with the reason, nothing is half-written, and another tenant's jobs
 * are as invisible as missing ones.
 */
describe('hostile input to the operations API', () => {
  let platform: Platform;
  let mallory: ConveyorClient;
  let demo: ConveyorClient;
  let db: pg.Pool;
  let demoJob = '';
  let tokens: Awaited<ReturnType<typeof createTokenKit>>;
  const storedJobs = async () => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM jobs WHERE tenant = $1', [TENANT])).rows[0]!.n;
  const issues = async (res: Response) => ((await res.json()) as { details?: Array<{ path: unknown[]; message: string }> }).details ?? [];

  beforeAll(async () => {
    tokens = await createTokenKit();
    platform = await startPlatform({
      pools: ['default'],
      gatewayEnv: { JWT_DEV_SIGNING_KEY: tokens.signingKeyPem, RATE_LIMIT_SUSTAINED_PER_MINUTE: String(SUSTAINED) },
    });
    mallory = new ConveyorClient(platform.gatewayUrl, await tokens.valid({ sub: 'mallory', tenant: TENANT, scope: 'jobs:read jobs:write' }, '30m'));
    demo = new ConveyorClient(platform.gatewayUrl, await tokens.valid({ sub: 'demo', tenant: 'demo', scope: 'jobs:read jobs:write' }, '30m'));
    db = new pg.Pool({ connectionString: platform.database.url, max: 2 });
    const { body } = await demo.submit({ type: 'noop', payload: {}, tags: ['secret-tag'] }, '/jobs', { 'Idempotency-Key': 'demo-key' });
    demoJob = String(body.jobId);
    // Finished before anything is attempted on it, so "changes nothing" compares a row at rest.
    await demo.waitForFinish(demoJob, 60_000);
  }, 240_000);
  afterAll(async () => {
    await db?.end();
    await platform?.stop();
  });

  describe('search and tags', () => {
    it('answers 400 with the reason for bad tags at submit, storing nothing', async () => {
      const cases: Array<[unknown, RegExp]> = [
        [['has space'], /without spaces or commas/],
        [['a,b'], /without spaces or commas/],
        [[''], /too small|>=1/i],
        [['x'.repeat(65)], /too big|<=64/i],
        [Array.from({ length: 21 }, (_, i) => `t${i}`), /too big|<=20/i],
        ['env:prod', /expected array/i],
      ];
      for (const [tags, reason] of cases) {
        const res = await mallory.request('/jobs', { method: 'POST', body: JSON.stringify({ type: 'noop', payload: {}, tags }) });
        expect(res.status, JSON.stringify(tags)).toBe(400);
        const [issue] = await issues(res);
        expect(issue?.path[0], JSON.stringify(tags)).toBe('tags');
        expect(issue?.message, JSON.stringify(tags)).toMatch(reason);
      }
      expect(await storedJobs()).toBe(0);
    });

    it('answers 400 naming the parameter for malformed searches', async () => {
      const { nextCursor } = (await (await mallory.request('/jobs?limit=1')).json()) as { nextCursor: string | null };
      expect(nextCursor).toBeNull();
      const newestCursor = Buffer.from(`2030-01-01T00:00:00.000000Z|${demoJob}`).toString('base64url');
      const cases: Array<[string, string]> = [
        ['tags=a,,b', 'tags'],
        ['tags=a%20b', 'tags'],
        [`tags=${Array.from({ length: 21 }, (_, i) => `t${i}`).join(',')}`, 'tags'],
        ['from=yesterday', 'from'],
        ['to=2030-01-01', 'to'],
        ['from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z', 'to'],
        ['from=2030-01-01T00:00:00Z&to=2030-01-01T00:00:00Z', 'to'],
        ['sort=createdAt%20DESC', 'sort'],
        ['sort=updatedAt', 'sort'],
        [`sort=createdAt&cursor=${newestCursor}`, 'cursor'],
        ['idempotencyKey=has%20space', 'idempotencyKey'],
        ['tenant=', 'tenant'],
        ['orderBy=id', ''],
      ];
      for (const [query, where] of cases) {
        const res = await mallory.request(`/jobs?${query}`);
        expect(res.status, query).toBe(400);
        const found = await issues(res);
        if (where) expect(found.map((i) => i.path[0]), query).toContain(where);
      }
    });

    it('never shows another tenant\'s job, by tag, key or tenant name', async () => {
      const none = ['tags=secret-tag', 'idempotencyKey=demo-key', `type=noop&sort=createdAt`];
      for (const query of none) {
        const res = await mallory.request(`/jobs?${query}`);
        expect(res.status, query).toBe(200);
        expect(((await res.json()) as { items: unknown[] }).items, query).toEqual([]);
      }
      const named = await mallory.request('/jobs?tenant=demo');
      expect(named.status).toBe(403);
      expect(await named.text()).not.toContain(demoJob);
      // The owner finds it by both.
      const mine = (await (await demo.request('/jobs?tags=secret-tag&idempotencyKey=demo-key')).json()) as { items: Array<{ jobId: string }> };
      expect(mine.items.map((j) => j.jobId)).toEqual([demoJob]);
    });
  });

  describe('retry', () => {
    it('answers 404 for another tenant\'s job exactly as for a missing or malformed id, and changes nothing', async () => {
      const before = (await db.query('SELECT status, attempts, updated_at FROM jobs WHERE id = $1', [demoJob])).rows[0];
      const theirs = await mallory.request(`/jobs/${demoJob}/retry`, { method: 'POST' });
      const missing = await mallory.request('/jobs/0b4c4d2e-8d1c-4a8e-9f00-000000000000/retry', { method: 'POST' });
      expect(theirs.status).toBe(404);
      expect(missing.status).toBe(404);
      const [a, b] = [(await theirs.json()) as Record<string, unknown>, (await missing.json()) as Record<string, unknown>];
      expect({ ...a, requestId: undefined }).toEqual({ ...b, requestId: undefined });
      expect((await mallory.request("/jobs/1'%20OR%20'1'='1/retry", { method: 'POST' })).status).toBe(404);
      expect((await db.query('SELECT status, attempts, updated_at FROM jobs WHERE id = $1', [demoJob])).rows[0]).toEqual(before);
    });

    it('answers 405 for another method and 401 without a token', async () => {
      const res = await mallory.request(`/jobs/${demoJob}/retry`);
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toContain('POST');
      expect((await fetch(`${platform.gatewayUrl}/jobs/${demoJob}/retry`, { method: 'POST' })).status).toBe(401);
    });
  });

  describe('webhook deliveries', () => {
    it('answers 404 for another tenant\'s job and delivery exactly as for missing or malformed ids, and changes nothing', async () => {
      // demo's job had no callbackUrl: a delivered webhook of it is stored as the dispatcher leaves one.
      const { rows } = await db.query<{ id: string }>(
        `INSERT INTO webhook_deliveries (event_id, job_id, tenant, url, destination, body, status, attempts, finished_at)
         SELECT max(id), $1, 'demo', 'https://hooks.example.com/x', 'https://hooks.example.com:443', '{}', 'delivered', 1, now() FROM job_events WHERE job_id = $1
         RETURNING id`,
        [demoJob],
      );
      const deliveryId = rows[0]!.id;
      const row = async () => (await db.query('SELECT status, attempts, updated_at, redelivered_at FROM webhook_deliveries WHERE id = $1', [deliveryId])).rows[0];
      const before = await row();
      const missing = '0b4c4d2e-8d1c-4a8e-9f00-000000000000';
      const pairs: Array<[string, string, string]> = [
        ['GET', `/jobs/${demoJob}/deliveries`, `/jobs/${missing}/deliveries`],
        ['POST', `/jobs/${demoJob}/deliveries/${deliveryId}/redeliver`, `/jobs/${missing}/deliveries/${missing}/redeliver`],
      ];
      for (const [method, theirsPath, missingPath] of pairs) {
        const theirs = await mallory.request(theirsPath, { method });
        const absent = await mallory.request(missingPath, { method });
        expect(theirs.status, theirsPath).toBe(404);
        expect(absent.status, missingPath).toBe(404);
        const [a, b] = [(await theirs.json()) as Record<string, unknown>, (await absent.json()) as Record<string, unknown>];
        expect({ ...a, requestId: undefined }).toEqual({ ...b, requestId: undefined });
      }
      for (const path of ["/jobs/1'%20OR%20'1'='1/deliveries", `/jobs/${demoJob}'%20OR%20tenant='demo/deliveries`, '/jobs/%00/deliveries']) {
        expect((await mallory.request(path)).status, path).toBeGreaterThanOrEqual(400);
        expect((await mallory.request(path)).status, path).toBeLessThan(500);
      }
      const injected = await demo.request(`/jobs/${demoJob}/deliveries/${encodeURIComponent(`${deliveryId}' OR '1'='1`)}/redeliver`, { method: 'POST' });
      expect(injected.status).toBe(404);
      expect(await row()).toEqual(before);
      // The owner sees it, and may send it again.
      const mine = (await (await demo.request(`/jobs/${demoJob}/deliveries`)).json()) as { items: Array<{ deliveryId: string }> };
      expect(mine.items.map((d) => d.deliveryId)).toEqual([deliveryId]);
    });

    it('answers 405 for another method and 401 without a token', async () => {
      expect((await mallory.request(`/jobs/${demoJob}/deliveries`, { method: 'POST', body: '{}' })).status).toBe(405);
      expect((await fetch(`${platform.gatewayUrl}/jobs/${demoJob}/deliveries`)).status).toBe(401);
      expect((await fetch(`${platform.gatewayUrl}/jobs/${demoJob}/deliveries/${demoJob}/redeliver`, { method: 'POST' })).status).toBe(401);
    });
  });

  describe('batch', () => {
    const post = (client: ConveyorClient, body: string, headers: Record<string, string> = {}) => client.request('/jobs/batch', { method: 'POST', body, headers });

    it('refuses 1,001 jobs naming the limit, and stores none', async () => {
      const jobs = Array.from({ length: 1001 }, () => ({ type: 'noop', payload: {} }));
      const res = await post(mallory, JSON.stringify({ jobs }));
      expect(res.status).toBe(413);
      expect(await res.json()).toMatchObject({ error: expect.stringMatching(/at most 1000 jobs/), details: { limit: 1000 } });
      expect(await storedJobs()).toBe(0);
    });

    it('lists every invalid item by index with its reason (422), and stores none of the valid ones', async () => {
      const jobs = [
        { type: 'noop', payload: {} },
        { type: 'no-such-type', payload: {} },
        { type: 'noop', payload: {}, idempotencyKey: 'ok-key' },
        { type: 'sleep', payload: { ms: -1 } },
        { type: 'noop', payload: {}, runAt: '2000-01-01T00:00:00Z' },
        { type: 'noop', payload: {}, idempotencyKey: 'has space' },
        'not an object',
        { type: 'noop', payload: {}, tags: ['a b'] },
        { type: 'points.grant', payload: { userId: 'me', amount: 1000000, reservationId: '0b4c4d2e-8d1c-4a8e-9f00-000000000000' } },
      ];
      const res = await post(mallory, JSON.stringify({ jobs }));
      expect(res.status).toBe(422);
      const body = (await res.json()) as { error: string; details: { items: Array<{ index: number; status: number; error: string; details?: Array<{ path: unknown[] }> }> } };
      expect(body.error).toMatch(/7 of 9 jobs are invalid; none was stored/);
      expect(body.details.items.map((i) => [i.index, i.status])).toEqual([
        // Unknown type, payload against its schema, the run window, a type POST /jobs does not take: 422 as on POST /jobs.
        [1, 422],
        [3, 422],
        [4, 422],
        [5, 400],
        [6, 400],
        [7, 400],
        [8, 422],
      ]);
      expect(body.details.items.find((i) => i.index === 5)!.details![0]!.path).toEqual(['idempotencyKey']);
      expect(await storedJobs()).toBe(0);
    });

    it('answers 400/415 for a body that is not a batch, or an Idempotency-Key header', async () => {
      const cases: Array<[string, Record<string, string>, number]> = [
        ['{}', {}, 400],
        ['{"jobs":[]}', {}, 400],
        ['{"jobs":"noop"}', {}, 400],
        ['{"jobs":[{"type":"noop","payload":{}}],"extra":1}', {}, 400],
        ['[{"type":"noop","payload":{}}]', {}, 400],
        ['{"jobs":[', {}, 400],
        ['{"jobs":[{"type":"noop","payload":{}}]}', { 'Idempotency-Key': 'whole-batch' }, 400],
        ['jobs=1', { 'content-type': 'text/plain' }, 415],
      ];
      for (const [body, headers, status] of cases) {
        const res = await post(mallory, body, headers);
        expect(res.status, body).toBe(status);
        expect(((await res.json()) as { error: string }).error, body).toBeTruthy();
      }
      expect(await storedJobs()).toBe(0);
    });

    it('counts each job of a batch against the per-user rate limit (sustained window), and stores nothing it refuses', async () => {
      const counted = new ConveyorClient(platform.gatewayUrl, await tokens.valid({ sub: 'bulk', tenant: 'hostile-bulk', scope: 'jobs:read jobs:write' }, '30m'));
      const jobs = (n: number) => JSON.stringify({ jobs: Array.from({ length: n }, () => ({ type: 'noop', payload: {}, runAt: new Date(Date.now() + 86_400_000).toISOString() })) });
      const first = await post(counted, jobs(1000));
      expect(first.status).toBe(202);
      expect(Number(first.headers.get('ratelimit-remaining'))).toBeLessThanOrEqual(SUSTAINED - 1000);
      const second = await post(counted, jobs(600));
      expect(second.status).toBe(429);
      expect(second.headers.get('retry-after')).toBeTruthy();
      expect(await second.json()).toMatchObject({ error: expect.stringMatching(/per job/), details: { jobs: 600 } });
      const { rows } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM jobs WHERE tenant = 'hostile-bulk'");
      expect(rows[0]!.n).toBe(1000);
    });

    it('keeps item keys per tenant: another tenant\'s key makes a new job of one\'s own', async () => {
      const res = await post(mallory, JSON.stringify({ jobs: [{ type: 'noop', payload: {}, tags: ['secret-tag'], idempotencyKey: 'demo-key' }] }));
      expect(res.status).toBe(202);
      const [item] = ((await res.json()) as { items: Array<{ jobId: string; replayed: boolean }> }).items;
      expect(item!.jobId).not.toBe(demoJob);
      expect(item!.replayed).toBe(false);
    });
  });

  describe('dead letters', () => {
    it('refuses tenants (403) and answers 400 naming the parameter or body part', async () => {
      const root = new ConveyorClient(platform.gatewayUrl, await tokens.valid({ sub: 'root', tenant: 'ops', scope: 'conveyor:admin' }, '30m'));
      expect((await mallory.request('/dlq')).status).toBe(403);
      expect((await mallory.request('/dlq/redrive', { method: 'POST', body: '{"all":true}' })).status).toBe(403);
      const queries: Array<[string, string]> = [
        ['pool=nope', 'pool'],
        ['limit=0', 'limit'],
        ['cursor=abc', 'cursor'],
        ['from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z', 'to'],
        ['error=', 'error'],
        ['sort=diedAt', ''],
      ];
      for (const [query, where] of queries) {
        const res = await root.request(`/dlq?${query}`);
        expect(res.status, query).toBe(400);
        if (where) expect((await issues(res)).map((i) => i.path[0]), query).toContain(where);
      }
      const bodies = [
        '{}',
        '{"all":false}',
        '{"jobIds":[]}',
        '{"jobIds":["not-a-uuid"]}',
        `{"jobIds":${JSON.stringify(Array.from({ length: 1001 }, () => demoJob))}}`,
        `{"all":true,"jobIds":["${demoJob}"]}`,
        '{"filter":{"pool":"nope"}}',
        '{"filter":{"from":"2030-01-02T00:00:00Z","to":"2030-01-01T00:00:00Z"}}',
        '{"filter":{"colour":"red"}}',
      ];
      for (const body of bodies) {
        const res = await root.request('/dlq/redrive', { method: 'POST', body });
        expect(res.status, body.slice(0, 60)).toBe(400);
      }
      // A job that is not dead is skipped, not requeued: nothing of another state changes.
      const res = await root.request('/dlq/redrive', { method: 'POST', body: JSON.stringify({ jobIds: [demoJob] }) });
      expect(await res.json()).toMatchObject({ matched: 0, requeued: 0 });
      expect((await db.query('SELECT status FROM jobs WHERE id = $1', [demoJob])).rows[0]).toEqual({ status: 'success' });
    });
  });

  describe('pools', () => {
    it('shows a tenant none of another tenant\'s jobs nor the shared queues; 404 for an unknown pool, 405 for another method', async () => {
      expect((await demo.submit({ type: 'report.generate', payload: {} })).res.status).toBe(202);
      const res = await mallory.request('/pools/reports');
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ queue: null, jobs: { waiting: 0, processing: 0 }, oldestWaitingSeconds: null });
      const theirs = (await (await demo.request('/pools/reports')).json()) as { jobs: { waiting: number } };
      expect(theirs.jobs.waiting).toBeGreaterThanOrEqual(1);
      for (const name of ['nope', '..%2Fjobs', 'REPORTS', '%00']) expect((await mallory.request(`/pools/${name}`)).status, name).toBeGreaterThanOrEqual(400);
      expect((await mallory.request('/pools/nope')).status).toBe(404);
      expect((await mallory.request('/pools', { method: 'POST', body: '{}' })).status).toBe(405);
      expect((await fetch(`${platform.gatewayUrl}/pools`)).status).toBe(401);
    });

    it('lets only conveyor:admin pause or resume, answers 404 for an unknown pool and 400/415 with the reason for a bad body, changing nothing', async () => {
      const root = new ConveyorClient(platform.gatewayUrl, await tokens.valid({ sub: 'root', tenant: 'ops', scope: 'conveyor:admin' }, '30m'));
      const controls = async () => (await db.query('SELECT pool, paused FROM pool_controls')).rows;
      for (const action of ['pause', 'resume']) {
        expect((await mallory.request(`/pools/reports/${action}`, { method: 'POST' })).status, action).toBe(403);
        expect((await mallory.request(`/pools/nope/${action}`, { method: 'POST' })).status, action).toBe(403);
        expect((await fetch(`${platform.gatewayUrl}/pools/reports/${action}`, { method: 'POST' })).status, action).toBe(401);
        expect((await root.request(`/pools/nope/${action}`, { method: 'POST' })).status, action).toBe(404);
        expect((await root.request(`/pools/reports/${action}`)).status, `GET ${action}`).toBe(405);
      }
      const bodies: Array<[string, string]> = [
        ['{"reason":""}', 'reason'],
        [JSON.stringify({ reason: 'x'.repeat(501) }), 'reason'],
        ['{"reason":7}', 'reason'],
        ['{"paused":true}', ''],
        ['[]', ''],
      ];
      for (const [body, where] of bodies) {
        const res = await root.request('/pools/reports/pause', { method: 'POST', body });
        expect(res.status, body.slice(0, 40)).toBe(400);
        if (where) expect((await issues(res)).map((i) => i.path[0]), body.slice(0, 40)).toContain(where);
      }
      const text = await root.request('/pools/reports/pause', { method: 'POST', body: 'pause', headers: { 'content-type': 'text/plain' } });
      expect(text.status).toBe(415);
      expect(await controls(), 'nothing was paused').toEqual([]);
    });
  });
  describe('schedules', () => {
    const scheduleRow = async (tenant: string, name: string) =>
      (await db.query('SELECT spec, generation FROM schedules WHERE tenant = $1 AND name = $2', [tenant, name])).rows[0];
    const scheduleJobs = async (tenant: string) => (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM jobs WHERE tenant = $1 AND idempotency_key LIKE 'schedule:%'", [tenant])).rows[0]!.n;

    it('answers 404 for another tenant\'s schedule exactly as for a missing one, on every route, and changes nothing', async () => {
      const created = await demo.request('/schedules', { method: 'POST', body: JSON.stringify({ name: 'secret-nightly', schedule: '0 3 * * *', jobType: 'noop', suspend: true }) });
      expect(created.status).toBe(201);
      const before = await scheduleRow('demo', 'secret-nightly');
      const demoRuns = await scheduleJobs('demo');
      for (const name of ['secret-nightly', 'missing-one']) {
        for (const [method, suffix, body] of [['GET', '', undefined], ['PATCH', '', '{"suspend":false}'], ['DELETE', '', undefined], ['POST', '/pause', undefined], ['POST', '/resume', undefined], ['POST', '/trigger', undefined]] as const) {
          for (const query of ['', '?tenant=demo']) {
            const res = await mallory.request(`/schedules/${name}${suffix}${query}`, { method, ...(body ? { body } : {}) });
            expect(res.status, `${method} ${name}${suffix}${query}`).toBe(404);
            expect(await res.json(), `${method} ${name}${suffix}${query}`).toMatchObject({ error: 'schedule not found' });
          }
        }
      }
      expect(((await (await mallory.request('/schedules')).json()) as { items: unknown[] }).items).toEqual([]);
      expect((await mallory.request('/schedules?tenant=demo')).status).toBe(403);
      const planted = await mallory.request('/schedules?tenant=demo', { method: 'POST', body: JSON.stringify({ name: 'planted', schedule: '* * * * *', jobType: 'noop' }) });
      expect(planted.status).toBe(403);
      expect(await scheduleRow('demo', 'planted')).toBeUndefined();
      // Names are per tenant: taking one another tenant uses reveals nothing.
      expect((await mallory.request('/schedules', { method: 'POST', body: JSON.stringify({ name: 'secret-nightly', schedule: '0 4 * * *', jobType: 'noop', suspend: true }) })).status).toBe(201);
      expect(await scheduleRow('demo', 'secret-nightly')).toEqual(before);
      expect(await scheduleJobs('demo')).toBe(demoRuns);
    });

    it('answers 400 naming the field for a malformed body, 422 with the reason for what cannot run, 404 for a malformed name, storing nothing', async () => {
      const count = async () => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM schedules WHERE tenant = $1', [TENANT])).rows[0]!.n;
      const stored = await count();
      const bad400: Array<[unknown, string]> = [
        [{ schedule: '0 * * * *', jobType: 'noop' }, 'name'],
        [{ name: 'UPPER', schedule: '0 * * * *', jobType: 'noop' }, 'name'],
        [{ name: 'x'.repeat(64), schedule: '0 * * * *', jobType: 'noop' }, 'name'],
        [{ name: '-dash', schedule: '0 * * * *', jobType: 'noop' }, 'name'],
        [{ name: 'ok', schedule: '', jobType: 'noop' }, 'schedule'],
        [{ name: 'ok', schedule: 7, jobType: 'noop' }, 'schedule'],
        [{ name: 'ok', schedule: '0 * * * *', jobType: 'noop', suspend: 'yes' }, 'suspend'],
        [{ name: 'ok', schedule: '0 * * * *', jobType: 'noop', concurrencyPolicy: 'Sometimes' }, 'concurrencyPolicy'],
        [{ name: 'ok', schedule: '0 * * * *', jobType: 'noop', startingDeadlineSeconds: -1 }, 'startingDeadlineSeconds'],
        [{ name: 'ok', schedule: '0 * * * *', jobType: 'noop', tenant: 'demo' }, ''],
        [[], ''],
      ];
      for (const [body, where] of bad400) {
        const res = await mallory.request('/schedules', { method: 'POST', body: JSON.stringify(body) });
        expect(res.status, JSON.stringify(body).slice(0, 60)).toBe(400);
        if (where) expect((await issues(res)).map((i) => i.path[0]), JSON.stringify(body).slice(0, 60)).toContain(where);
      }
      const bad422: Array<[Record<string, unknown>, RegExp]> = [
        [{ schedule: '* * * *', jobType: 'noop' }, /schedule/],
        [{ schedule: '60 * * * *', jobType: 'noop' }, /schedule/],
        [{ schedule: '0 0 31 2 *', jobType: 'noop' }, /schedule/],
        [{ schedule: '0 * * * *', timeZone: 'Not/AZone', jobType: 'noop' }, /timeZone|Not\/AZone/],
        [{ schedule: '0 * * * *', jobType: 'points.grant' }, /points\/reservations/],
        [{ schedule: '0 * * * *', jobType: 'no-such-type' }, /unknown job type/],
        [{ schedule: '0 * * * *', jobType: 'sleep', payload: { ms: -5 } }, /payload/],
      ];
      for (const [body, reason] of bad422) {
        const res = await mallory.request('/schedules', { method: 'POST', body: JSON.stringify({ name: 'ok', ...body }) });
        expect(res.status, JSON.stringify(body)).toBe(422);
        expect(((await res.json()) as { error: string }).error, JSON.stringify(body)).toMatch(reason);
      }
      const text = await mallory.request('/schedules', { method: 'POST', body: 'name=ok', headers: { 'content-type': 'text/plain' } });
      expect(text.status).toBe(415);
      const huge = await mallory.request('/schedules', { method: 'POST', body: JSON.stringify({ name: 'ok', schedule: '0 * * * *', jobType: 'noop', payload: { pad: 'x'.repeat(2_000_000) } }) });
      expect(huge.status).toBe(413);
      for (const name of ['..%2Fjobs', 'UPPER', '%00', 'a'.repeat(64)]) expect((await mallory.request(`/schedules/${name}`)).status, name).toBeGreaterThanOrEqual(400);
      expect((await mallory.request('/schedules/UPPER')).status).toBe(404);
      expect((await mallory.request('/schedules/secret-nightly', { method: 'PUT', body: '{}' })).status).toBe(405);
      expect((await fetch(`${platform.gatewayUrl}/schedules`)).status).toBe(401);
      const reader = new ConveyorClient(platform.gatewayUrl, await tokens.valid({ sub: 'reader', tenant: TENANT, scope: 'jobs:read' }, '30m'));
      expect((await reader.request('/schedules')).status).toBe(200);
      for (const [method, path] of [['POST', '/schedules'], ['PATCH', '/schedules/secret-nightly'], ['DELETE', '/schedules/secret-nightly'], ['POST', '/schedules/secret-nightly/trigger']] as const) {
        expect((await reader.request(path, { method, body: '{}' })).status, `${method} ${path}`).toBe(403);
      }
      expect(await count()).toBe(stored);
    });

    it('bounds a tenant to 100 schedules, naming the limit', async () => {
      const existing = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM schedules WHERE tenant = $1', [TENANT])).rows[0]!.n;
      for (let i = existing; i < 100; i++) {
        const res = await mallory.request('/schedules', { method: 'POST', body: JSON.stringify({ name: `s${i}`, schedule: '0 0 1 1 *', jobType: 'noop', suspend: true }) });
        expect(res.status, `schedule ${i}`).toBe(201);
      }
      const over = await mallory.request('/schedules', { method: 'POST', body: JSON.stringify({ name: 'one-too-many', schedule: '0 0 1 1 *', jobType: 'noop' }) });
      expect(over.status).toBe(409);
      expect(((await over.json()) as { error: string }).error).toMatch(/at most 100 schedules/);
      expect((await demo.request('/schedules', { method: 'POST', body: JSON.stringify({ name: 'still-fine', schedule: '0 0 1 1 *', jobType: 'noop', suspend: true }) })).status).toBe(201);
    });
  });
});

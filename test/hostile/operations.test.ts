import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startPlatform, type Platform } from '../support/platform.js';
import { ConveyorClient } from '../e2e/client.js';
import { createTokenKit } from './tokens.js';

const TENANT = 'hostile-ops';

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
  const storedJobs = async () => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM jobs WHERE tenant = $1', [TENANT])).rows[0]!.n;
  const issues = async (res: Response) => ((await res.json()) as { details?: Array<{ path: unknown[]; message: string }> }).details ?? [];

  beforeAll(async () => {
    const tokens = await createTokenKit();
    platform = await startPlatform({ pools: ['default'], gatewayEnv: { JWT_DEV_SIGNING_KEY: tokens.signingKeyPem } });
    mallory = new ConveyorClient(platform.gatewayUrl, await tokens.valid({ sub: 'mallory', tenant: TENANT, scope: 'jobs:read jobs:write' }, '30m'));
    demo = new ConveyorClient(platform.gatewayUrl, await tokens.valid({ sub: 'demo', tenant: 'demo', scope: 'jobs:read jobs:write' }, '30m'));
    db = new pg.Pool({ connectionString: platform.database.url, max: 2 });
    const { body } = await demo.submit({ type: 'noop', payload: {}, tags: ['secret-tag'] }, '/jobs', { 'Idempotency-Key': 'demo-key' });
    demoJob = String(body.jobId);
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
});

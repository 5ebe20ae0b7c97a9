import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { sendRaw } from '../support/raw-http.js';
import { startPlatform, type Platform } from '../support/platform.js';
import { ConveyorClient } from '../e2e/client.js';
import { createTokenKit } from './tokens.js';
import { REASON, unsafeTextCases } from './unsafe-text.js';

const TENANT = 'hostile-edges';

/**
 * A hostile tenant of its own at the edges of the public API: text Postgres cannot store, the
 * operational endpoints, password guessing, and the odd media type or instant. Each gets a clear
 * 4xx with the reason, nothing is stored, and honest requests are served throughout.
 */
describe('hostile input at the edges, from a tenant of its own', () => {
  let platform: Platform;
  let mallory: ConveyorClient;
  let authorization: string;
  let db: pg.Pool;
  const storedJobs = async () => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM jobs WHERE tenant = $1', [TENANT])).rows[0]!.n;
  const honestJobCompletes = async () => {
    const { res, body } = await mallory.submit({ type: 'noop', payload: {} });
    expect(res.status).toBe(202);
    expect(await mallory.waitForFinish(String(body.jobId), 30_000)).toMatchObject({ status: 'success' });
  };

  beforeAll(async () => {
    const tokens = await createTokenKit();
    platform = await startPlatform({ pools: ['default'], gatewayEnv: { JWT_DEV_SIGNING_KEY: tokens.signingKeyPem } });
    const token = await tokens.valid({ sub: 'mallory', tenant: TENANT, scope: 'jobs:read jobs:write points:grant' }, '30m');
    authorization = `Bearer ${token}`;
    mallory = new ConveyorClient(platform.gatewayUrl, token);
    db = new pg.Pool({ connectionString: platform.database.url, max: 2 });
  }, 240_000);
  afterAll(async () => {
    await db?.end();
    await platform?.stop();
  });

  describe('text Postgres cannot store (issue 28.5)', () => {
    it('answers 400 with the reason to the reported inputs, not 500', async () => {
      const surrogate = await mallory.request('/jobs', { method: 'POST', body: '{"type":"noop","payload":{"a":"\\ud800"}}' });
      expect(surrogate.status).toBe(400);
      expect(await surrogate.json()).toMatchObject({
        error: 'invalid request',
        details: [{ path: ['payload', 'a'], message: expect.stringMatching(/unpaired UTF-16 surrogate/) }],
      });
      const nul = await mallory.request('/points/%00');
      expect(nul.status).toBe(400);
      expect(await nul.json()).toMatchObject({ error: 'path must not contain the NUL character (U+0000)', details: { where: 'path' } });
    });

    it('answers 400 naming NUL, a surrogate or UTF-8 to every generated case in body, path, query and header, storing nothing', async () => {
      const cases = unsafeTextCases(authorization);
      expect(cases.length).toBeGreaterThan(100);
      const wrong: string[] = [];
      for (const { name, request } of cases) {
        const answer = await sendRaw(platform.gatewayUrl, request);
        let error = '';
        try {
          const body = JSON.parse(answer.body) as { error?: string; details?: Array<{ message?: string }> };
          error = [body.error, ...(Array.isArray(body.details) ? body.details.map((d) => d.message) : [])].join(' ');
        } catch {
          error = `(not JSON) ${answer.body.slice(0, 200)}`;
        }
        if (answer.status !== 400 || !REASON.test(error)) wrong.push(`${name}: ${request.method} ${request.target} -> ${answer.status} ${error}`);
      }
      expect(wrong).toEqual([]);
      expect(await storedJobs()).toBe(0);
      await honestJobCompletes();
    }, 120_000);
  });

  describe('operational endpoints (issue 28.6)', () => {
    it('keeps /metrics, /readyz and /healthz off the public port however the path is spelt, and serves them on the ops ports', async () => {
      const paths = ['/metrics', '/readyz', '/healthz', '/metrics/', '//metrics', '/./metrics', '/jobs/../metrics', '/%6Detrics', '/METRICS', '/metrics?format=text', '/readyz%3F'];
      for (const path of paths) {
        for (const headers of [{}, { authorization }] as Array<Record<string, string>>) {
          const res = await fetch(`${platform.gatewayUrl}${path}`, { headers });
          const text = await res.text();
          expect(res.status, `${path} ${JSON.stringify(headers)}`).toBeGreaterThanOrEqual(400);
          expect(res.status, path).toBeLessThan(500);
          expect(text, path).not.toMatch(/# HELP|# TYPE|conveyor_|postgres|kafka|"checks"/);
        }
      }
      // The public document stays public.
      expect((await fetch(`${platform.gatewayUrl}/openapi.json`)).status).toBe(200);
      const { gateway, api, bridge, scheduler, workers } = platform.services;
      for (const service of [gateway, api, bridge, scheduler, ...workers]) {
        expect((await fetch(`${service.opsUrl}/readyz`)).status, service.name).toBe(200);
        expect(await (await fetch(`${service.opsUrl}/metrics`)).text(), service.name).toContain('# HELP');
      }
    });
  });

  describe('password guessing (issue 28.7)', () => {
    it('locks an account with 429 and Retry-After after repeated failures, logging each as a security event', async () => {
      const account = `target-${Date.now()}@example.com`;
      const attempt = (password: string, email = account) =>
        fetch(`${platform.gatewayUrl}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });
      const statuses: number[] = [];
      let refused: Response | undefined;
      for (let i = 0; i < 20; i++) {
        const res = await attempt(`guess-${i}`);
        statuses.push(res.status);
        if (res.status === 429) refused ??= res;
      }
      // The default: five failures, then locked for 30 s (longer with every further failure).
      expect(statuses).toEqual([...Array<number>(5).fill(401), ...Array<number>(15).fill(429)]);
      expect(Number(refused!.headers.get('retry-after'))).toBeGreaterThan(20);
      expect(Number(refused!.headers.get('retry-after'))).toBeLessThanOrEqual(30);
      // Guessing at one account locks no one else out.
      expect((await attempt('demo-password', 'demo@example.com')).status).toBe(200);
      await new Promise((r) => setTimeout(r, 300));
      const events = platform.services.gateway
        .output()
        .split('\n')
        .filter((l) => l.includes(account))
        .map((l) => (JSON.parse(l) as { event?: string }).event);
      expect(events.filter((e) => e === 'login_failed')).toHaveLength(5);
      expect(events.filter((e) => e === 'login_locked')).toHaveLength(1);
      expect(events.filter((e) => e === 'login_refused_locked')).toHaveLength(15);
      expect(platform.services.gateway.output()).not.toMatch(/guess-\d/);
    });
  });

  describe('media types and instants (issue 28.9)', () => {
    it('parses +json bodies and refuses other media types with 415', async () => {
      const vnd = await mallory.request('/jobs', { method: 'POST', body: '{"type":"noop","payload":{}}', headers: { 'content-type': 'application/vnd.api+json' } });
      expect(vnd.status).toBe(202);
      const broken = await mallory.request('/jobs', { method: 'POST', body: '{"type":', headers: { 'content-type': 'application/vnd.api+json' } });
      expect(broken.status).toBe(400);
      expect(((await broken.json()) as { error: string }).error).toBe('malformed JSON body');
      for (const type of ['text/plain', 'application/xml', 'application/jsonx', 'multipart/form-data; boundary=x']) {
        const res = await mallory.request('/jobs', { method: 'POST', body: '{"type":"noop","payload":{}}', headers: { 'content-type': type } });
        expect(res.status, type).toBe(415);
      }
    });

    it('says in words what an instant must look like, without a regex', async () => {
      for (const runAt of ['tomorrow', '2030-13-01T00:00:00Z', '2030-01-01 00:00:00', '2030-01-01T00:00:00']) {
        const res = await mallory.request('/jobs', { method: 'POST', body: JSON.stringify({ type: 'noop', payload: {}, runAt }) });
        const text = await res.text();
        expect(res.status, runAt).toBe(400);
        expect(JSON.parse(text)).toMatchObject({ details: [{ path: ['runAt'], message: expect.stringMatching(/^must be an ISO 8601 date-time with a time zone, such as 2030-01-31T09:00:00Z/) }] });
        expect(text, runAt).not.toMatch(/pattern|\(\?:|\\d/);
        expect(text.length, runAt).toBeLessThan(400);
      }
    });

    it('refuses runAt and executeAt outside the documented window with 422, and takes those inside it', async () => {
      const day = 24 * 60 * 60 * 1000;
      const before = await storedJobs();
      for (const runAt of ['9999-12-31T23:59:59Z', '0001-01-01T00:00:00Z', new Date(Date.now() + 366 * day).toISOString(), new Date(Date.now() - 2 * day).toISOString()]) {
        const res = await mallory.request('/jobs', { method: 'POST', body: JSON.stringify({ type: 'noop', payload: {}, runAt }) });
        expect(res.status, runAt).toBe(422);
        expect(await res.json()).toMatchObject({
          error: 'runAt must be at most 1 day(s) in the past and at most 365 day(s) in the future',
          details: { field: 'runAt', earliest: expect.any(String), latest: expect.any(String) },
        });
        // The error names the field sent: runAt, or its deprecated name executeAt.
        for (const field of ['runAt', 'executeAt']) {
          const reservation = await mallory.request('/points/reservations', { method: 'POST', body: JSON.stringify({ userId: 'u', amount: 1, [field]: runAt }) });
          expect(reservation.status, runAt).toBe(422);
          expect(((await reservation.json()) as { details: { field: string } }).details.field).toBe(field);
        }
      }
      expect(await storedJobs()).toBe(before);
      for (const runAt of [new Date(Date.now() + 300 * day).toISOString(), new Date(Date.now() - 3_600_000).toISOString()]) {
        expect((await mallory.request('/jobs', { method: 'POST', body: JSON.stringify({ type: 'noop', payload: {}, runAt }) })).status, runAt).toBe(202);
      }
    });
  });
});

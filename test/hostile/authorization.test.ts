import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startPlatform, type Platform } from '../support/platform.js';
import { ConveyorClient } from '../e2e/client.js';
import { createTokenKit, type TokenKit } from './tokens.js';

const MISSING = '0b4c4d2e-8d1c-4a8e-9f00-000000000000';

/** Every documented route that needs a token (the public ones say `security: []`), with its path parameters filled in. */
async function operations(gatewayUrl: string, id = MISSING) {
  const doc = (await (await fetch(`${gatewayUrl}/openapi.json`)).json()) as { paths: Record<string, Record<string, { security?: unknown[] }>> };
  return Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops)
      .filter(([, op]) => op.security?.length !== 0)
      .map(([method]) => ({ method: method.toUpperCase(), path: path.replace(/\{[^}]+\}/g, id) })),
  );
}

/**
 * Who may see what: forged and stale tokens never pass the gateway, and a second tenant can neither
 * read, change nor detect the first tenant's jobs, results, events, notifications or points.
 */
describe('authorization and tenant isolation', () => {
  let platform: Platform;
  let tokens: TokenKit;
  let demo: ConveyorClient;
  let eve: ConveyorClient;
  let db: pg.Pool;
  const demoJob = { id: '', notification: '' };

  beforeAll(async () => {
    tokens = await createTokenKit();
    platform = await startPlatform({ pools: ['default'], gatewayEnv: { JWT_DEV_SIGNING_KEY: tokens.signingKeyPem } });
    db = new pg.Pool({ connectionString: platform.database.url, max: 2 });
    demo = new ConveyorClient(platform.gatewayUrl, await platform.login());
    // Eve may grant points in her own tenant, so reservations are attacked past the scope check too.
    eve = new ConveyorClient(platform.gatewayUrl, await tokens.valid({ sub: 'eve', tenant: 'evil', scope: 'jobs:read jobs:write points:grant' }));
    const demoGranter = new ConveyorClient(platform.gatewayUrl, await tokens.valid({ sub: 'user-demo', tenant: 'demo', scope: 'jobs:read jobs:write points:grant' }));
    const { body } = await demo.submit({ type: 'noop', payload: { secret: 'demo-secret' } }, '/jobs', { 'Idempotency-Key': 'shared-key' });
    demoJob.id = String(body.jobId);
    await demo.waitForFinish(demoJob.id);
    const reservation = await demoGranter.submit({ userId: 'victim', amount: 50, executeAt: new Date().toISOString() }, '/points/reservations');
    await demo.waitForFinish(String(reservation.body.jobId));
    const deadline = Date.now() + 30_000;
    while (!demoJob.notification && Date.now() < deadline) {
      const { items } = (await (await demo.request('/notifications/unread')).json()) as { items: Array<{ id: string; jobId: string }> };
      demoJob.notification = items.find((n) => n.jobId === demoJob.id)?.id ?? '';
      if (!demoJob.notification) await new Promise((r) => setTimeout(r, 250));
    }
    if (!demoJob.notification) throw new Error('no completion notice for the demo job');
  }, 240_000);
  afterAll(async () => {
    await db?.end();
    await platform?.stop();
  });

  it('refuses every route without, with an expired, tampered, alg:none or foreign-key token', async () => {
    const claims = { sub: 'demo', tenant: 'demo', scope: 'jobs:read jobs:write conveyor:admin' };
    const bad: Array<[string, string | undefined]> = [
      ['none', undefined],
      ['expired', await tokens.expired(claims)],
      ['tampered', await tokens.tampered({ ...claims, tenant: 'evil' }, 'demo')],
      ['alg:none', tokens.algNone(claims)],
      ['foreign key', await tokens.foreignKey(claims)],
      ['garbage', 'not.a.jwt'],
    ];
    const ops = await operations(platform.gatewayUrl, demoJob.id);
    expect(ops.length).toBeGreaterThanOrEqual(10);
    for (const [kind, token] of bad) {
      for (const { method, path } of ops) {
        const res = await fetch(`${platform.gatewayUrl}${path}`, {
          method,
          headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
          body: method === 'GET' || method === 'DELETE' ? undefined : '{}',
        });
        expect(res.status, `${kind}: ${method} ${path}`).toBe(401);
        const text = await res.text();
        expect(text, `${kind}: ${method} ${path}`).not.toContain('demo-secret');
      }
    }
    // Nothing was cancelled or marked read by the refused calls.
    expect((await demo.job(demoJob.id)).body.status).toBe('success');
  }, 120_000);

  it('answers another tenant exactly as for a job that does not exist (no existence leak)', async () => {
    for (const suffix of ['', '/result', '/events']) {
      const theirs = await eve.request(`/jobs/${demoJob.id}${suffix}`);
      const missing = await eve.request(`/jobs/${MISSING}${suffix}`);
      expect(theirs.status, suffix).toBe(404);
      expect(missing.status, suffix).toBe(404);
      const [a, b] = [(await theirs.json()) as Record<string, unknown>, (await missing.json()) as Record<string, unknown>];
      expect({ ...a, requestId: undefined }).toEqual({ ...b, requestId: undefined });
    }
    expect((await eve.request(`/jobs/${demoJob.id}`, { method: 'DELETE' })).status).toBe(404);
    const { rows } = await db.query('SELECT status, cancel_requested FROM jobs WHERE id = $1', [demoJob.id]);
    expect(rows[0]).toMatchObject({ status: 'success', cancel_requested: false });
  });

  it('lists none of the other tenant\'s jobs, under any filter', async () => {
    for (const query of ['', '?type=noop', '?status=success', '?limit=100', '?type=points.grant&status=success']) {
      const res = await eve.request(`/jobs${query}`);
      expect(res.status, query).toBe(200);
      expect(((await res.json()) as { items: unknown[] }).items, query).toEqual([]);
    }
  });

  it('keeps Idempotency-Keys per tenant: the same key elsewhere makes a new job', async () => {
    const { res, body } = await eve.submit({ type: 'noop', payload: { secret: 'demo-secret' } }, '/jobs', { 'Idempotency-Key': 'shared-key' });
    expect(res.status).toBe(202);
    expect(body.jobId).not.toBe(demoJob.id);
  });

  it('keeps points balances and notifications per tenant', async () => {
    expect(await (await eve.request('/points/victim')).json()).toMatchObject({ userId: 'victim', balance: 0 });
    expect(await (await demo.request('/points/victim')).json()).toMatchObject({ balance: 50 });
    const unread = (await (await eve.request('/notifications/unread')).json()) as { items: Array<{ jobId: string }> };
    expect(unread.items.some((n) => n.jobId === demoJob.id)).toBe(false);
    expect((await eve.request(`/notifications/${demoJob.notification}/read`, { method: 'POST' })).status).toBe(404);
    const mine = (await (await demo.request('/notifications/unread')).json()) as { items: Array<{ id: string }> };
    expect(mine.items.map((n) => n.id)).toContain(demoJob.notification);
  });

  it('treats SQL injection in every filter, id, header and body field as data (no 5xx, no leak, tables intact)', async () => {
    const attacks = [
      "' OR '1'='1",
      "'; DROP TABLE jobs; --",
      "1' UNION SELECT id, tenant, type, payload::text FROM jobs --",
      '") OR 1=1 --',
      `${demoJob.id}' OR tenant='demo`,
      "%27%20OR%201%3D1--",
      '\\x27; SELECT pg_sleep(5); --',
      "demo'||(SELECT tenant FROM jobs LIMIT 1)||'",
    ];
    let tried = 0;
    for (const attack of attacks) {
      const enc = encodeURIComponent(attack);
      const requests: Array<[string, string, RequestInit?]> = [
        ['GET', `/jobs?status=${enc}`],
        ['GET', `/jobs?type=${enc}`],
        ['GET', `/jobs?cursor=${enc}`],
        ['GET', `/jobs?limit=${enc}`],
        ['GET', `/jobs/${enc}`],
        ['GET', `/jobs/${enc}/result`],
        ['GET', `/jobs/${enc}/events`],
        ['DELETE', `/jobs/${enc}`],
        ['GET', `/points/${enc}`],
        ['POST', `/notifications/${enc}/read`],
        ['GET', `/jobs/${enc}/deliveries`],
        ['POST', `/jobs/${demoJob.id}/deliveries/${enc}/redeliver`],
        ['GET', `/jobs/${demoJob.id}/events`, { headers: { 'last-event-id': attack } }],
        ['POST', '/jobs', { body: JSON.stringify({ type: attack, payload: {} }) }],
        ['POST', '/jobs', { body: JSON.stringify({ type: 'noop', payload: { q: attack } }), headers: { 'idempotency-key': attack.replace(/[^\x20-\x7e]/g, '') } }],
        ['POST', '/points/reservations', { body: JSON.stringify({ userId: attack, amount: 1, executeAt: new Date(Date.now() + 3_600_000).toISOString() }) }],
      ];
      for (const [method, path, init] of requests) {
        const started = Date.now();
        const res = await eve.request(path, { ...init, method, signal: AbortSignal.timeout(10_000) });
        const text = await res.text();
        tried++;
        expect(res.status, `${method} ${path}: ${text}`).toBeLessThan(500);
        expect(text, `${method} ${path}`).not.toContain('demo-secret');
        // An echo of the caller's own input is no leak; the other tenant's id appearing otherwise is.
        if (!attack.includes(demoJob.id)) expect(text, `${method} ${path}`).not.toContain(demoJob.id);
        expect(Date.now() - started, `${method} ${path} was slowed by pg_sleep`).toBeLessThan(4_000);
      }
    }
    expect(tried).toBe(attacks.length * 16);
    const { rows } = await db.query(
      "SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name IN ('jobs', 'job_events', 'points_balances', 'points_reservations', 'notifications')",
    );
    expect(rows[0].n).toBe(5);
    const jobs = await db.query("SELECT count(*)::int AS n FROM jobs WHERE tenant = 'demo'");
    expect(jobs.rows[0].n).toBe(2);
    expect(await (await demo.request('/points/victim')).json()).toMatchObject({ balance: 50 });
  }, 120_000);
});

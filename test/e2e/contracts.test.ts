import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importPKCS8, SignJWT, exportJWK, calculateJwkThumbprint, importSPKI } from 'jose';
import { startPlatform, type Platform } from '../support/platform.js';
import { ConveyorClient } from './client.js';

/**
 * The public HTTP contracts (docs/design.md) through the real gateway in front of the real api: auth, scopes,
 * tenant isolation, validation and idempotency. Tokens for a second tenant are signed with the
 * gateway's configured dev key, as an identity provider would sign them.
 */
describe('public HTTP contracts through the gateway', () => {
  let platform: Platform;
  let demo: ConveyorClient;
  let mint: (claims: { sub: string; tenant: string; scope: string }) => Promise<string>;

  beforeAll(async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    platform = await startPlatform({ pools: [], gatewayEnv: { JWT_DEV_SIGNING_KEY: pem } });
    demo = new ConveyorClient(platform.gatewayUrl, await platform.login());
    const key = await importPKCS8(pem, 'ES256');
    const kid = await calculateJwkThumbprint(
      await exportJWK(await importSPKI(publicKey.export({ type: 'spki', format: 'pem' }).toString(), 'ES256')),
    );
    mint = (claims) =>
      new SignJWT({ tenant: claims.tenant, scope: claims.scope })
        .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' })
        .setSubject(claims.sub)
        .setIssuer('conveyor-gateway')
        .setAudience('conveyor')
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(key);
  }, 240_000);
  afterAll(async () => platform?.stop());

  it('documents every route in OpenAPI 3 and refuses each protected one without a token', async () => {
    const doc = (await (await fetch(`${platform.gatewayUrl}/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<string, Record<string, { security?: unknown[] }>>;
    };
    expect(doc.openapi).toMatch(/^3\./);
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({
        method: method.toUpperCase(),
        path: path.replace(/\{[^}]+\}/g, '0b4c4d2e-8d1c-4a8e-9f00-000000000000'),
        public: op.security?.length === 0,
      })),
    );
    expect(operations.length).toBeGreaterThanOrEqual(12);
    // The public ones are exactly those that say so (no security requirement).
    expect(operations.filter((o) => o.public).map((o) => `${o.method} ${o.path}`).sort()).toEqual(['GET /.well-known/jwks.json', 'GET /openapi.json', 'POST /auth/login']);
    for (const { method, path } of operations.filter((o) => !o.public)) {
      const res = await fetch(`${platform.gatewayUrl}${path}`, { method, headers: { 'content-type': 'application/json' }, body: method === 'GET' || method === 'DELETE' ? undefined : '{}' });
      expect(res.status, `${method} ${path}`).toBe(401);
      const body = (await res.json()) as { error: string; requestId: string };
      expect(body.requestId).toBeTruthy();
    }
  });

  it('documents the gateway\'s own operations beside the api\'s, in a valid document, as they answer', async () => {
    const { validate, compileErrors } = await import('@readme/openapi-parser');
    const doc = (await (await fetch(`${platform.gatewayUrl}/openapi.json`)).json()) as Record<string, unknown> & {
      paths: Record<string, Record<string, { requestBody?: { content: Record<string, { example?: unknown }> }; responses: Record<string, { content?: Record<string, { example?: unknown }> }> }>>;
    };
    const result = await validate(structuredClone(doc) as never);
    if (!result.valid) throw new Error(compileErrors(result));
    const login = doc.paths['/auth/login']!.post!;
    expect(login.requestBody!.content['application/json']!.example).toEqual({ email: 'demo@example.com', password: 'demo-password' });
    const tokenExample = login.responses['200']!.content!['application/json']!.example as Record<string, unknown>;
    const real = (await (
      await fetch(`${platform.gatewayUrl}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'demo@example.com', password: 'demo-password' }) })
    ).json()) as Record<string, unknown>;
    expect(Object.keys(real).sort()).toEqual(Object.keys(tokenExample).sort());
    const me = doc.paths['/auth/me']!.get!.responses['200']!.content!['application/json']!.example as Record<string, unknown>;
    const realMe = (await (await fetch(`${platform.gatewayUrl}/auth/me`, { headers: { authorization: `Bearer ${String(real.accessToken)}` } })).json()) as Record<string, unknown>;
    expect(Object.keys(realMe).sort()).toEqual(Object.keys(me).sort());
    expect(doc.paths['/.well-known/jwks.json']!.get!.responses['200']!.content!['application/json']!.example).toHaveProperty('keys');
  });

  it('hides another tenant\'s job behind 404 on every job route', async () => {
    const { body } = await demo.submit({ type: 'noop', payload: {} });
    const other = new ConveyorClient(platform.gatewayUrl, await mint({ sub: 'eve', tenant: 'other', scope: 'jobs:read jobs:write' }));
    for (const [method, path] of [
      ['GET', `/jobs/${body.jobId}`],
      ['GET', `/jobs/${body.jobId}/result`],
      ['GET', `/jobs/${body.jobId}/events`],
      ['DELETE', `/jobs/${body.jobId}`],
    ] as const) {
      const res = await other.request(path, { method });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(await res.json()).toMatchObject({ error: 'job not found' });
    }
    const list = (await (await other.request('/jobs')).json()) as { items: unknown[] };
    expect(list.items).toEqual([]);
  });

  it('answers 403 without the scope, 422 naming an unknown type or the failing payload paths, 413 over the limit, 405 for a wrong method', async () => {
    const reader = new ConveyorClient(platform.gatewayUrl, await mint({ sub: 'rita', tenant: 'demo', scope: 'jobs:read' }));
    expect((await reader.submit({ type: 'noop', payload: {} })).res.status).toBe(403);

    const unknown = await demo.submit({ type: 'no.such.type', payload: {} });
    expect(unknown.res.status).toBe(422);
    expect(unknown.body.details).toEqual([{ path: ['type'], message: 'unknown job type "no.such.type"' }]);
    const invalid = await demo.submit({ type: 'sleep', payload: { ms: 'soon' } });
    expect(invalid.res.status).toBe(422);
    expect(invalid.body.details).toEqual([{ path: ['payload', 'ms'], keyword: 'type', message: 'must be integer' }]);

    const huge = await demo.request('/jobs', { method: 'POST', body: JSON.stringify({ type: 'noop', payload: { x: 'y'.repeat(2 * 1024 * 1024) } }) });
    expect(huge.status).toBe(413);
    expect(await huge.json()).toHaveProperty('requestId');

    const wrong = await demo.request('/generate-report', { method: 'GET' });
    expect(wrong.status).toBe(405);
  });

  it('makes one job of 20 concurrent identical submissions and 409s a different body with the same key', async () => {
    const headers = { 'Idempotency-Key': 'contract-key-1' };
    const replies = await Promise.all(Array.from({ length: 20 }, () => demo.submit({ type: 'noop', payload: { n: 1 } }, '/jobs', headers)));
    expect(replies.every((r) => r.res.status === 202)).toBe(true);
    expect(new Set(replies.map((r) => r.body.jobId)).size).toBe(1);
    const conflict = await demo.submit({ type: 'noop', payload: { n: 2 } }, '/jobs', headers);
    expect(conflict.res.status).toBe(409);
  });

  it('pages through the caller\'s jobs newest first', async () => {
    const mine = new ConveyorClient(platform.gatewayUrl, await mint({ sub: 'pat', tenant: 'paging', scope: 'jobs:read jobs:write' }));
    const created: string[] = [];
    for (let i = 0; i < 7; i++) created.push(String((await mine.submit({ type: 'noop', payload: { i } })).body.jobId));
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const res = await mine.request(`/jobs?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      const page = (await res.json()) as { items: Array<{ jobId: string }>; nextCursor?: string | null };
      seen.push(...page.items.map((j) => j.jobId));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual([...created].reverse());
    expect((await mine.request('/jobs?limit=0')).status).toBe(400);
    expect((await mine.request("/jobs?status=queued'%20OR%201=1--")).status).toBe(400);
  });

  it('answers a CORS preflight for an allowed origin and refuses another', async () => {
    const allowed = await fetch(`${platform.gatewayUrl}/jobs`, {
      method: 'OPTIONS',
      headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'POST' },
    });
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('http://localhost:3000');
    const refused = await fetch(`${platform.gatewayUrl}/jobs`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
  });
});

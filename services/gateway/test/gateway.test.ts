import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK, exportPKCS8, exportSPKI, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRaw } from '../../../test/support/raw-http.js';
import { spawnService, startService, type RunningService } from '../../../test/support/service-process.js';
import { startStandInApi, type StandInApi } from './support/upstream.js';

const ISSUER = 'conveyor-gateway';
const AUDIENCE = 'conveyor';
const INTERNAL_TOKEN = 'test-internal-token-0123456789';
const ORIGIN = 'http://localhost:3000';

const running: RunningService[] = [];
const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  await Promise.all(running.map((s) => s.stop('SIGKILL')));
  await Promise.all(closers.map((c) => c()));
});

async function gateway(env: Record<string, string>): Promise<RunningService> {
  const service = await startService('gateway', { OTEL_SDK_DISABLED: 'true', ...env });
  running.push(service);
  return service;
}

function encode(part: object): string {
  return Buffer.from(JSON.stringify(part)).toString('base64url');
}

function claims(extra: JWTPayload = {}): JWTPayload {
  return { tenant: 'demo', scope: 'jobs:read jobs:write', ...extra };
}

async function login(url: string, email: string, password: string, contentType = 'application/json'): Promise<Response> {
  return fetch(`${url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: JSON.stringify({ email, password }),
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** POSTs a body in chunks without Content-Length (chunked transfer encoding). */
function postChunked(url: string, token: string, chunks: number, chunkSize: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    // The gateway may cut the connection after answering 413 while we still write.
    req.on('error', (error) => (error.message.includes('EPIPE') || error.message.includes('ECONNRESET') ? undefined : reject(error)));
    let sent = 0;
    const write = () => {
      while (sent < chunks) {
        sent++;
        if (!req.write(Buffer.alloc(chunkSize, 'a'))) return req.once('drain', write);
      }
      req.end();
    };
    write();
  });
}

describe('gateway in dev mode, with a node:http server standing in for the api', () => {
  let api: StandInApi;
  let gw: RunningService;
  let sign: (payload: JWTPayload, options?: { exp?: number | string; iss?: string; kid?: string }) => Promise<string>;
  let demoToken: string;

  beforeAll(async () => {
    api = await startStandInApi();
    closers.push(api.close);
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    gw = await gateway({
      // Telemetry on, as deployed: the undici instrumentation then carries the trace onward.
      OTEL_SDK_DISABLED: 'false',
      API_URL: api.url,
      API_INTERNAL_TOKEN: INTERNAL_TOKEN,
      JWT_DEV_SIGNING_KEY: await exportPKCS8(privateKey),
      CORS_ORIGINS: ORIGIN,
      BODY_LIMIT_BYTES: '1024',
      RATE_LIMIT_BURST: '1000',
      RATE_LIMIT_SUSTAINED_PER_MINUTE: '100000',
    });
    const jwks = (await (await fetch(`${gw.url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
    const kid = jwks.keys[0]!.kid;
    sign = (payload, options = {}) =>
      new SignJWT(payload)
        .setProtectedHeader({ alg: 'ES256', kid: options.kid ?? kid })
        .setSubject(String(payload.sub ?? 'user-test'))
        .setIssuer(options.iss ?? ISSUER)
        .setAudience(AUDIENCE)
        .setIssuedAt()
        .setExpirationTime(options.exp ?? '5m')
        .sign(privateKey);
    const res = await login(gw.url, 'demo@example.com', 'demo-password');
    demoToken = ((await res.json()) as { accessToken: string }).accessToken;
  });

  describe('login', () => {
    it('issues a short-lived bearer token for a dev user, which /auth/me reads back', async () => {
      const res = await login(gw.url, 'demo@example.com', 'demo-password');
      expect(res.status).toBe(200);
      const body = (await res.json()) as { accessToken: string; tokenType: string; expiresIn: number };
      expect(body.tokenType).toBe('Bearer');
      expect(body.expiresIn).toBeGreaterThan(0);
      expect(body.expiresIn).toBeLessThanOrEqual(3600);
      const me = await fetch(`${gw.url}/auth/me`, { headers: { authorization: `Bearer ${body.accessToken}` } });
      expect(me.status).toBe(200);
      expect(await me.json()).toEqual({ sub: 'user-demo', email: 'demo@example.com', tenant: 'demo', scopes: ['jobs:read', 'jobs:write'] });
    });

    it('gives the admin user the admin scope in tenant admin', async () => {
      const { accessToken } = (await (await login(gw.url, 'admin@example.com', 'admin-password')).json()) as { accessToken: string };
      const me = (await (await fetch(`${gw.url}/auth/me`, { headers: { authorization: `Bearer ${accessToken}` } })).json()) as {
        tenant: string;
        scopes: string[];
      };
      expect(me.tenant).toBe('admin');
      expect(me.scopes).toEqual(['jobs:read', 'jobs:write', 'points:grant', 'conveyor:admin']);
    });

    it('takes a structured +json login body and refuses other media types with 415', async () => {
      expect((await login(gw.url, 'admin@example.com', 'admin-password', 'application/vnd.api+json')).status).toBe(200);
      expect((await login(gw.url, 'admin@example.com', 'admin-password', 'application/json; charset=utf-8')).status).toBe(200);
      const refused = await login(gw.url, 'admin@example.com', 'admin-password', 'text/plain');
      expect(refused.status).toBe(415);
      expect(((await refused.json()) as { error: string }).error).toBe('content type must be application/json (or a +json type)');
    });

    it('refuses a wrong password and an unknown user alike, taking comparable time', async () => {
      const timed = async (email: string) => {
        const started = performance.now();
        const res = await login(gw.url, email, 'wrong-password');
        return { res, ms: performance.now() - started, body: (await res.json()) as { error: string } };
      };
      const known = [];
      const unknown = [];
      for (let i = 0; i < 5; i++) {
        known.push(await timed('demo@example.com'));
        unknown.push(await timed('nobody@example.com'));
      }
      for (const r of [...known, ...unknown]) {
        expect(r.res.status).toBe(401);
        expect(r.res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      }
      expect(unknown[0]!.body.error).toBe(known[0]!.body.error);
      const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      // Without the decoy hash an unknown email would answer in well under a tenth of the time.
      expect(median(unknown.map((r) => r.ms))).toBeGreaterThan(median(known.map((r) => r.ms)) * 0.5);
    });

    it('answers 400 with the reasons for a malformed login body', async () => {
      const res = await fetch(`${gw.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"email":1}' });
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: string; details: Array<{ path: string }>; requestId: string };
      expect(body.details.map((d) => d.path).sort()).toEqual(['email', 'password']);
      expect(body.requestId).toBe(res.headers.get('x-request-id'));
    });
  });

  describe('tokens', () => {
    const me = (token?: string) => fetch(`${gw.url}/auth/me`, token ? { headers: { authorization: `Bearer ${token}` } } : {});

    it('accepts a token signed with the dev key', async () => {
      expect((await me(await sign(claims()))).status).toBe(200);
    });

    it('stops accepting a token once it expired, though its earlier verification was remembered', async () => {
      const exp = Math.floor(Date.now() / 1000) + 2;
      const token = await sign(claims(), { exp });
      expect((await me(token)).status).toBe(200);
      expect((await me(token)).status).toBe(200);
      // The gateway allows 5 s of clock skew past exp.
      await new Promise((resolve) => setTimeout(resolve, exp * 1000 + 6_500 - Date.now()));
      expect((await me(token)).status).toBe(401);
    });

    it.each([
      ['missing', async () => undefined],
      ['expired', async () => sign(claims(), { exp: Math.floor(Date.now() / 1000) - 60 })],
      ['from another issuer', async () => sign(claims(), { iss: 'https://evil.example.com' })],
      [
        'tampered',
        async () => {
          const [header, , signature] = demoToken.split('.');
          return `${header}.${encode({ ...claims({ tenant: 'admin', scope: 'conveyor:admin' }), sub: 'user-demo', iss: ISSUER, aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 300 })}.${signature}`;
        },
      ],
      [
        'unsigned (alg none)',
        async () => `${encode({ alg: 'none', typ: 'JWT' })}.${encode({ ...claims(), sub: 'x', iss: ISSUER, aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 300 })}.`,
      ],
      [
        'HS256 keyed with the published public key (algorithm confusion)',
        async () => {
          const jwks = (await (await fetch(`${gw.url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
          const secret = new TextEncoder().encode(JSON.stringify(jwks.keys[0]));
          return new SignJWT(claims())
            .setProtectedHeader({ alg: 'HS256', kid: jwks.keys[0]!.kid })
            .setSubject('x')
            .setIssuer(ISSUER)
            .setAudience(AUDIENCE)
            .setExpirationTime('5m')
            .sign(secret);
        },
      ],
      ['garbage', async () => 'not.a.jwt'],
    ])('refuses a %s token with 401 and WWW-Authenticate', async (_name, make) => {
      const res = await me(await make());
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="conveyor"/);
      const body = (await res.json()) as { error: string; requestId: string };
      expect(body.requestId).toBe(res.headers.get('x-request-id'));
    });

    it('answers 403 without the scope and lets admin through everywhere', async () => {
      const readOnly = await sign(claims({ scope: 'jobs:read' }));
      const denied = await fetch(`${gw.url}/jobs`, { method: 'POST', headers: { authorization: `Bearer ${readOnly}` }, body: '{}' });
      expect(denied.status).toBe(403);
      expect(((await denied.json()) as { details: unknown }).details).toEqual({ required: 'jobs:write' });
      expect((await fetch(`${gw.url}/jobs`, { headers: { authorization: `Bearer ${readOnly}` } })).status).toBe(200);
      const writeOnly = await sign(claims({ scope: 'jobs:write' }));
      expect((await fetch(`${gw.url}/jobs/1`, { headers: { authorization: `Bearer ${writeOnly}` } })).status).toBe(403);
      const admin = await sign(claims({ tenant: 'admin', scope: 'conveyor:admin' }));
      expect((await fetch(`${gw.url}/jobs/1`, { method: 'DELETE', headers: { authorization: `Bearer ${admin}` } })).status).toBe(200);
    });

    it('lets only points:grant (or admin) reserve points: jobs:write alone is 403 naming the scope', async () => {
      const reserve = (token: string) =>
        fetch(`${gw.url}/points/reservations`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ userId: 'u-1', amount: 5, executeAt: new Date().toISOString() }),
        });
      const before = api.received.length;
      const denied = await reserve(demoToken);
      expect(denied.status).toBe(403);
      expect(((await denied.json()) as { details: unknown }).details).toEqual({ required: 'points:grant' });
      expect(denied.headers.get('www-authenticate')).toContain('scope="points:grant"');
      expect(api.received.length).toBe(before);

      const granter = await sign(claims({ scope: 'jobs:read points:grant' }));
      const seen = api.nextRequest('/points/reservations');
      expect((await reserve(granter)).status).toBe(200);
      expect((await seen).headers['x-conveyor-scopes']).toBe('jobs:read points:grant');
      const { accessToken } = (await (await login(gw.url, 'admin@example.com', 'admin-password')).json()) as { accessToken: string };
      expect((await reserve(accessToken)).status).toBe(200);
    });
  });

  describe('forwarding to the api', () => {
    it('passes the verified identity and the internal token, and drops client-forged identity headers', async () => {
      const seen = api.nextRequest('/jobs');
      const res = await fetch(`${gw.url}/jobs?x=1`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${demoToken}`,
          'content-type': 'application/json',
          'idempotency-key': 'k-1',
          'x-conveyor-tenant': 'admin',
          'x-conveyor-scopes': 'conveyor:admin',
          'x-conveyor-internal-token': 'forged',
          'x-conveyor-anything': 'forged',
        },
        body: JSON.stringify({ type: 'noop', payload: {} }),
      });
      expect(res.status).toBe(202);
      expect(res.headers.get('location')).toBe('/jobs/job-1');
      expect(res.headers.get('retry-after')).toBe('2');
      expect(await res.json()).toEqual({ jobId: 'job-1', statusUrl: '/jobs/job-1' });
      const got = await seen;
      expect(got.url).toBe('/jobs?x=1');
      expect(got.body).toBe(JSON.stringify({ type: 'noop', payload: {} }));
      expect(got.headers['x-conveyor-tenant']).toBe('demo');
      expect(got.headers['x-conveyor-subject']).toBe('user-demo');
      expect(got.headers['x-conveyor-scopes']).toBe('jobs:read jobs:write');
      expect(got.headers['x-conveyor-internal-token']).toBe(INTERNAL_TOKEN);
      expect(got.headers['x-conveyor-anything']).toBeUndefined();
      expect(got.headers['idempotency-key']).toBe('k-1');
      expect(got.headers.authorization).toBeUndefined();
    });

    it('generates an X-Request-ID when absent or invalid, echoes a valid one, and passes traceparent on', async () => {
      const first = api.nextRequest('/jobs/r1');
      const generated = await fetch(`${gw.url}/jobs/r1`, { headers: { authorization: `Bearer ${demoToken}` } });
      const id = generated.headers.get('x-request-id');
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect((await first).headers['x-request-id']).toBe(id);

      const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
      const second = api.nextRequest('/jobs/r2');
      const echoed = await fetch(`${gw.url}/jobs/r2`, {
        headers: { authorization: `Bearer ${demoToken}`, 'x-request-id': 'client-id-12345', traceparent },
      });
      expect(echoed.headers.get('x-request-id')).toBe('client-id-12345');
      const got = await second;
      expect(got.headers['x-request-id']).toBe('client-id-12345');
      // Same trace, exactly one traceparent; the parent span is the gateway's own when traced.
      expect(got.headers.traceparent).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[\da-f]{16}-0[01]$/);

      const replaced = await fetch(`${gw.url}/nope`, { headers: { 'x-request-id': 'bad id' } });
      expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      expect(((await replaced.json()) as { requestId: string }).requestId).toBe(replaced.headers.get('x-request-id'));
    });

    it('serves /openapi.json without a token: the api\'s document with the gateway\'s own operations added', async () => {
      const res = await fetch(`${gw.url}/openapi.json`);
      expect(res.status).toBe(200);
      const document = (await res.json()) as { ok: boolean; path: string; paths: Record<string, Record<string, unknown>> };
      // The stand-in api answers {ok, path} to anything: its part arrives unchanged.
      expect(document).toMatchObject({ ok: true, path: '/openapi.json' });
      expect(Object.keys(document.paths).sort()).toEqual(['/.well-known/jwks.json', '/auth/login', '/auth/me']);
    });

    it('streams SSE events through as they are written and closes the upstream when the client leaves', async () => {
      const res = await fetch(`${gw.url}/jobs/slow/events`, { headers: { authorization: `Bearer ${demoToken}`, accept: 'text/event-stream' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/event-stream');
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      // The stand-in api holds back the last event until we have read the first one.
      while (!text.includes('event: created')) text += decoder.decode((await reader.read()).value, { stream: true });
      expect(text).not.toContain('event: succeeded');
      api.releaseStream();
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += decoder.decode(chunk.value, { stream: true });
      expect(text.indexOf('event: created')).toBeLessThan(text.indexOf('event: succeeded'));

      const abort = new AbortController();
      const held = await fetch(`${gw.url}/jobs/hold/events`, { headers: { authorization: `Bearer ${demoToken}` }, signal: abort.signal });
      const heldReader = held.body!.getReader();
      expect(decoder.decode((await heldReader.read()).value)).toContain('event: created');
      abort.abort();
      await expect(Promise.race([api.streamClosedEarly.then(() => 'closed'), new Promise((r) => setTimeout(() => r('still open'), 5000))])).resolves.toBe(
        'closed',
      );
    });
  });

  describe('edge protections', () => {
    it('serves /healthz, /readyz and /metrics on the ops port only: the public port answers 404 and never forwards them', async () => {
      const before = api.received.length;
      for (const path of ['/metrics', '/readyz', '/healthz']) {
        const hidden = await fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${demoToken}` } });
        expect(hidden.status, path).toBe(404);
        expect(await hidden.json()).toEqual({ error: 'not found', requestId: hidden.headers.get('x-request-id') });
        expect((await fetch(`${gw.opsUrl}${path}`)).status, path).toBe(200);
      }
      // Only the readiness check's own HEAD /openapi.json reached the api.
      expect(api.received.slice(before).map((r) => `${r.method} ${r.url}`)).toEqual(['HEAD /openapi.json']);
      // The ops port has nothing else: the API is not reachable through it.
      expect((await fetch(`${gw.opsUrl}/openapi.json`)).status).toBe(404);
    });

    it('answers 400 with the reason for NUL or non-UTF-8 in the path, the query or a header, before the api sees it', async () => {
      const before = api.received.length;
      const auth = { authorization: `Bearer ${demoToken}` };
      const nulPath = await fetch(`${gw.url}/points/%00`, { headers: auth });
      expect(nulPath.status).toBe(400);
      expect(await nulPath.json()).toEqual({
        error: 'path must not contain the NUL character (U+0000)',
        details: { where: 'path' },
        requestId: nulPath.headers.get('x-request-id'),
      });
      const surrogateQuery = await fetch(`${gw.url}/jobs?type=%ED%A0%80`, { headers: auth });
      expect(surrogateQuery.status).toBe(400);
      expect(((await surrogateQuery.json()) as { error: string }).error).toBe('query is not valid percent-encoded UTF-8');
      const surrogateHeader = await sendRaw(gw.url, {
        method: 'GET',
        target: '/jobs',
        headers: [['Authorization', `Bearer ${demoToken}`], ['Idempotency-Key', Buffer.from([0x6b, 0xed, 0xa0, 0x80])]],
      });
      expect(surrogateHeader.status).toBe(400);
      expect(JSON.parse(surrogateHeader.body)).toMatchObject({ error: 'header Idempotency-Key is not valid UTF-8' });
      // NUL in a header never gets past Node's parser; the answer still says why, as JSON.
      const nulHeader = await sendRaw(gw.url, { method: 'GET', target: '/jobs', headers: [['X-Note', Buffer.from([0x61, 0x00, 0x62])]] });
      expect(nulHeader.status).toBe(400);
      expect(JSON.parse(nulHeader.body)).toEqual({ error: expect.stringContaining('NUL') });
      expect(api.received.length).toBe(before);
    });

    it('answers an allowed CORS preflight at the gateway and refuses other origins', async () => {
      const before = api.received.length;
      const ok = await fetch(`${gw.url}/jobs`, {
        method: 'OPTIONS',
        headers: { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
      });
      expect(ok.status).toBe(204);
      expect(ok.headers.get('access-control-allow-origin')).toBe(ORIGIN);
      expect(ok.headers.get('access-control-allow-methods')).toContain('POST');
      expect(ok.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');

      const refused = await fetch(`${gw.url}/jobs`, {
        method: 'OPTIONS',
        headers: { origin: 'https://evil.example.com', 'access-control-request-method': 'POST' },
      });
      expect(refused.status).toBe(403);
      expect(refused.headers.get('access-control-allow-origin')).toBeNull();
      expect(api.received.length).toBe(before);

      const simple = await fetch(`${gw.url}/jobs`, { headers: { origin: ORIGIN, authorization: `Bearer ${demoToken}` } });
      expect(simple.headers.get('access-control-allow-origin')).toBe(ORIGIN);
      expect(simple.headers.get('access-control-expose-headers')).toContain('RateLimit-Remaining');
      const other = await fetch(`${gw.url}/jobs`, { headers: { origin: 'https://evil.example.com', authorization: `Bearer ${demoToken}` } });
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
    });

    it('sets security headers on proxied answers and errors, without x-powered-by', async () => {
      for (const res of [await fetch(`${gw.url}/jobs`, { headers: { authorization: `Bearer ${demoToken}` } }), await fetch(`${gw.url}/nope`)]) {
        expect(res.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
        expect(res.headers.get('content-security-policy')).toBe("default-src 'none';frame-ancestors 'none'");
        expect(res.headers.get('x-content-type-options')).toBe('nosniff');
        expect(res.headers.get('x-powered-by')).toBeNull();
      }
    });

    it('answers 413 for a body over the limit, declared or streamed', async () => {
      const declared = await fetch(`${gw.url}/jobs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${demoToken}`, 'content-type': 'application/json' },
        body: 'x'.repeat(2048),
      });
      expect(declared.status).toBe(413);
      expect(((await declared.json()) as { error: string }).error).toBe('request body too large');

      const streamed = await postChunked(gw.url, demoToken, 64, 256);
      expect(streamed.status).toBe(413);
      expect(JSON.parse(streamed.body)).toMatchObject({ error: 'request body too large' });
      // A body under the limit still goes through in chunks.
      expect((await postChunked(gw.url, demoToken, 2, 100)).status).toBe(202);
    });

    it('answers 404 for unknown routes and 405 with Allow for a wrong method, as JSON', async () => {
      const missing = await fetch(`${gw.url}/nope/deeper`);
      expect(missing.status).toBe(404);
      expect(missing.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await missing.json()).toEqual({ error: 'not found', requestId: missing.headers.get('x-request-id') });
      const wrong = await fetch(`${gw.url}/jobs/1`, { method: 'PATCH', headers: { authorization: `Bearer ${demoToken}` } });
      expect(wrong.status).toBe(405);
      expect(wrong.headers.get('allow')).toBe('DELETE, GET, HEAD, OPTIONS');
    });

    it('records RED metrics by route template', async () => {
      await fetch(`${gw.url}/jobs/metric-probe`, { headers: { authorization: `Bearer ${demoToken}` } });
      const text = await (await fetch(`${gw.opsUrl}/metrics`)).text();
      expect(text).toMatch(/conveyor_http_server_request_duration_seconds_count\{[^}]*route="\/jobs\/:id"[^}]*status_code="200"/);
      expect(text).not.toContain('metric-probe');
    });

    it('writes one JSON access line per request and never the password or the Authorization header', async () => {
      await fetch(`${gw.url}/jobs/logged`, { headers: { authorization: `Bearer ${demoToken}`, 'x-request-id': 'access-log-probe-1' } });
      await new Promise((r) => setTimeout(r, 300));
      const lines = gw
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const line = lines.find((l) => l.request_id === 'access-log-probe-1' && l.msg === 'request');
      expect(line).toMatchObject({ method: 'GET', route: '/jobs/:id', status: 200, principal: 'user-demo', tenant: 'demo' });
      expect(typeof line!.latency_ms).toBe('number');
      const output = gw.output();
      expect(output).not.toContain('demo-password');
      expect(output).not.toContain('admin-password');
      expect(output).not.toContain(demoToken);
      expect(output).not.toMatch(/Bearer ey/);
    });
  });
});

describe('gateway rate limits, with a node:http server standing in for the api', () => {
  let api: StandInApi;
  beforeAll(async () => {
    api = await startStandInApi();
    closers.push(api.close);
  });

  const limited = async (gw: RunningService, token: string) => {
    const statuses: Response[] = [];
    for (let i = 0; i < 4; i++) statuses.push(await fetch(`${gw.url}/jobs`, { headers: { authorization: `Bearer ${token}` } }));
    return statuses;
  };

  it('answers 429 with Retry-After and RateLimit-* once the sustained allowance is spent, per principal', async () => {
    const gw = await gateway({ API_URL: api.url, RATE_LIMIT_BURST: '100', RATE_LIMIT_SUSTAINED_PER_MINUTE: '3' });
    const { accessToken } = (await (await login(gw.url, 'demo@example.com', 'demo-password')).json()) as { accessToken: string };
    const answers = await limited(gw, accessToken);
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 429]);
    expect(answers[0]!.headers.get('ratelimit-limit')).toBe('3');
    expect(answers[0]!.headers.get('ratelimit-remaining')).toBe('2');
    const refused = answers[3]!;
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(50);
    expect(refused.headers.get('ratelimit-remaining')).toBe('0');
    expect(Number(refused.headers.get('ratelimit-reset'))).toBeGreaterThan(0);
    expect(await refused.json()).toEqual({ error: 'too many requests', requestId: refused.headers.get('x-request-id') });
    // Another principal has its own allowance.
    const admin = (await (await login(gw.url, 'admin@example.com', 'admin-password')).json()) as { accessToken: string };
    expect((await fetch(`${gw.url}/jobs`, { headers: { authorization: `Bearer ${admin.accessToken}` } })).status).toBe(200);
    expect(await (await fetch(`${gw.opsUrl}/metrics`)).text()).toMatch(/conveyor_gateway_rate_limited_total\{[^}]*route="\/jobs"[^}]*\} 1/);
  });

  it('counts each job of POST /jobs/batch against the per-minute allowance, forwards the body intact, and refuses a batch larger than the allowance with 422', async () => {
    const gw = await gateway({ API_URL: api.url, RATE_LIMIT_BURST: '100', RATE_LIMIT_SUSTAINED_PER_MINUTE: '5' });
    const { accessToken } = (await (await login(gw.url, 'demo@example.com', 'demo-password')).json()) as { accessToken: string };
    const batch = (n: number) =>
      fetch(`${gw.url}/jobs/batch`, {
        method: 'POST',
        headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ jobs: Array.from({ length: n }, (_, i) => ({ type: 'noop', payload: { i } })) }),
      });
    const seen = api.nextRequest('/jobs/batch');
    const first = await batch(3);
    expect(first.status).toBe(200);
    expect(first.headers.get('ratelimit-remaining')).toBe('2');
    expect(JSON.parse((await seen).body)).toEqual({ jobs: [0, 1, 2].map((i) => ({ type: 'noop', payload: { i } })) });
    const tooLarge = await batch(6);
    expect(tooLarge.status).toBe(422);
    expect(await tooLarge.json()).toMatchObject({ details: { jobs: 6, limitPerMinute: 5 } });
    const over = await batch(3);
    expect(over.status).toBe(429);
    expect(await over.json()).toMatchObject({ error: expect.stringMatching(/per job/), details: { jobs: 3 } });
  });

  it('shares the allowance across replicas through Redis and checks Redis for readiness', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const env = {
      API_URL: api.url,
      REDIS_URL: 'redis://127.0.0.1:16379',
      JWT_DEV_SIGNING_KEY: await exportPKCS8(privateKey),
      RATE_LIMIT_BURST: '100',
      RATE_LIMIT_SUSTAINED_PER_MINUTE: '3',
    };
    const [a, b] = await Promise.all([gateway(env), gateway(env)]);
    const ready = (await (await fetch(`${a.opsUrl}/readyz`)).json()) as { checks: Record<string, { ok: boolean }> };
    expect(ready.checks.redis?.ok).toBe(true);
    // The kid as the gateway names its dev key (the JWK thumbprint): fetching /.well-known/jwks.json
    // would spend the anonymous allowance this Redis shares with every other gateway on the machine.
    const kid = await calculateJwkThumbprint(await exportJWK(publicKey));
    // A subject no earlier run used, since Redis keeps the counters for the minute.
    const token = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'ES256', kid })
      .setSubject(`user-${Date.now()}-${Math.random()}`)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime('5m')
      .sign(privateKey);
    const statuses = [];
    for (const gw of [a, b, a, b]) statuses.push((await fetch(`${gw.url}/jobs`, { headers: { authorization: `Bearer ${token}` } })).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
  });

  it('limits anonymous login attempts by client address', async () => {
    const gw = await gateway({ API_URL: api.url, RATE_LIMIT_BURST: '2', RATE_LIMIT_SUSTAINED_PER_MINUTE: '100' });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await login(gw.url, 'demo@example.com', 'wrong')).status);
    // Fewer than three in the same second is possible on a slow machine; then the third passes.
    expect(statuses.slice(0, 2)).toEqual([401, 401]);
    expect([401, 429]).toContain(statuses[2]);
    const burst = await Promise.all([0, 1, 2, 3].map(() => login(gw.url, 'demo@example.com', 'wrong')));
    expect(burst.some((r) => r.status === 429 && r.headers.get('retry-after') === '1')).toBe(true);
  });
});

describe('gateway behind a proxy, with a node:http server standing in for the api', () => {
  let api: StandInApi;
  beforeAll(async () => {
    api = await startStandInApi();
    closers.push(api.close);
  });

  /** Anonymous requests (the public /openapi.json) from the given clients, as a proxy forwards them. */
  const fromClients = async (gw: RunningService, clients: string[]) => {
    const statuses: number[] = [];
    for (const client of clients) statuses.push((await fetch(`${gw.url}/openapi.json`, { headers: { 'x-forwarded-for': client } })).status);
    return statuses;
  };

  it('keys anonymous rate limits on X-Forwarded-For when the socket is a trusted proxy, and ignores it otherwise', async () => {
    const limits = { API_URL: api.url, RATE_LIMIT_BURST: '100', RATE_LIMIT_SUSTAINED_PER_MINUTE: '2' };
    // Behind a trusted proxy (this test's loopback connection): each client has its own allowance.
    const trusting = await gateway({ ...limits, TRUSTED_PROXIES: 'loopback' });
    expect(await fromClients(trusting, ['203.0.113.1', '203.0.113.2', '203.0.113.1', '203.0.113.2', '198.51.100.7'])).toEqual([200, 200, 200, 200, 200]);
    expect(await fromClients(trusting, ['203.0.113.1'])).toEqual([429]);
    // The api hears of the client the proxy named, after it the proxy's own address.
    const seen = api.nextRequest('/openapi.json');
    await fetch(`${trusting.url}/openapi.json`, { headers: { 'x-forwarded-for': '192.0.2.44' } });
    expect((await seen).headers['x-forwarded-for']).toBe('192.0.2.44, 127.0.0.1');

    // Without trusted proxies a forged X-Forwarded-For buys nothing: all share the socket's allowance.
    const direct = await gateway(limits);
    expect(await fromClients(direct, ['203.0.113.1', '203.0.113.2', '198.51.100.7'])).toEqual([200, 200, 429]);
    // And a proxy that is not trusted (10.0.0.0/8 here) cannot vouch either.
    const elsewhere = await gateway({ ...limits, TRUSTED_PROXIES: '10.0.0.0/8' });
    expect(await fromClients(elsewhere, ['203.0.113.1', '203.0.113.2', '198.51.100.7'])).toEqual([200, 200, 429]);
  });

  it('refuses to start with TRUSTED_PROXIES that are not addresses or ranges, naming it', async () => {
    const gw = await spawnService('gateway', { OTEL_SDK_DISABLED: 'true', API_URL: api.url, TRUSTED_PROXIES: 'ingress.example.com' });
    running.push(gw);
    expect(await gw.exited).toBe(78);
    expect(gw.output()).toContain('TRUSTED_PROXIES:');
  });
});

describe('gateway dev signing key kept in JWT_DEV_SIGNING_KEY_FILE', () => {
  it('keeps issued tokens valid across kill -9 and a restart, the key generated once into the file (mode 0600)', async () => {
    const api = await startStandInApi();
    closers.push(api.close);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gateway-key-'));
    closers.push(() => rm(dir, { recursive: true, force: true }));
    const file = path.join(dir, '.run', 'gateway', 'dev-signing-key.pem');
    const env = { API_URL: api.url, JWT_DEV_SIGNING_KEY_FILE: file };

    const first = await gateway(env);
    const { accessToken } = (await (await login(first.url, 'demo@example.com', 'demo-password')).json()) as { accessToken: string };
    const pem = await readFile(file, 'utf8');
    expect(pem).toContain('BEGIN PRIVATE KEY');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await first.stop('SIGKILL')).toBe('SIGKILL');

    const second = await gateway(env);
    const me = await fetch(`${second.url}/auth/me`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ sub: 'user-demo', tenant: 'demo' });
    expect((await fetch(`${second.url}/jobs`, { headers: { authorization: `Bearer ${accessToken}` } })).status).toBe(200);
    expect(await readFile(file, 'utf8')).toBe(pem);
  });
});

describe('gateway login backoff per account, with a node:http server standing in for the api', () => {
  let api: StandInApi;
  beforeAll(async () => {
    api = await startStandInApi();
    closers.push(api.close);
  });

  const securityEvents = (gw: RunningService) =>
    gw
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => typeof l.event === 'string');

  it('answers 429 with Retry-After once an account failed too often, doubles the lockout, and logs security events', async () => {
    const gw = await gateway({ API_URL: api.url, LOGIN_MAX_FAILURES: '3', LOGIN_LOCK_SECONDS: '2', LOGIN_LOCK_MAX_SECONDS: '60' });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await login(gw.url, 'demo@example.com', `guess-${i}`)).status);
    expect(statuses).toEqual([401, 401, 401]);
    const locked = await login(gw.url, 'demo@example.com', 'guess-3');
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(locked.headers.get('retry-after'))).toBeLessThanOrEqual(2);
    expect(((await locked.json()) as { error: string }).error).toBe('too many failed logins for this account; retry later');
    // Locked means locked: the right password waits too, while another account is unaffected.
    expect((await login(gw.url, 'DEMO@example.com', 'demo-password')).status).toBe(429);
    expect((await login(gw.url, 'admin@example.com', 'admin-password')).status).toBe(200);

    // After the lockout one more wrong guess locks it again, for twice as long.
    await sleep(Number(locked.headers.get('retry-after')) * 1000 + 200);
    expect((await login(gw.url, 'demo@example.com', 'guess-4')).status).toBe(401);
    const longer = await login(gw.url, 'demo@example.com', 'guess-5');
    expect(longer.status).toBe(429);
    expect(Number(longer.headers.get('retry-after'))).toBeGreaterThan(2);
    expect(Number(longer.headers.get('retry-after'))).toBeLessThanOrEqual(4);

    // A success once the lockout is over starts the count afresh.
    await sleep(Number(longer.headers.get('retry-after')) * 1000 + 200);
    expect((await login(gw.url, 'demo@example.com', 'demo-password')).status).toBe(200);
    expect((await login(gw.url, 'demo@example.com', 'guess-6')).status).toBe(401);
    expect((await login(gw.url, 'demo@example.com', 'guess-7')).status).toBe(401);

    await sleep(300);
    const events = securityEvents(gw).filter((e) => e.account === 'demo@example.com');
    expect(events.map((e) => e.event)).toEqual([
      'login_failed',
      'login_failed',
      'login_failed',
      'login_locked',
      'login_refused_locked',
      'login_refused_locked',
      'login_failed',
      'login_locked',
      'login_refused_locked',
      'login_succeeded',
      'login_failed',
      'login_failed',
    ]);
    expect(events.filter((e) => e.event === 'login_locked').map((e) => e.lock_seconds)).toEqual([2, 4]);
    expect(events[0]).toMatchObject({ level: 'warn', failures: 1, client_ip: '127.0.0.1', request_id: expect.any(String) });
    expect(gw.output()).not.toMatch(/guess-\d/);
  }, 30_000);

  it('shares failures and locks across replicas through Redis, for unknown accounts alike', async () => {
    // Logins come as if through a proxy from a client address of their own: the anonymous rate
    // limit's bucket in the shared Redis is then this test's alone (other tests limit 127.0.0.1).
    const env = { API_URL: api.url, REDIS_URL: 'redis://127.0.0.1:16379', TRUSTED_PROXIES: 'loopback', LOGIN_MAX_FAILURES: '3', LOGIN_LOCK_SECONDS: '30' };
    const [a, b] = await Promise.all([gateway(env), gateway(env)]);
    const octet = () => Math.floor(Math.random() * 256);
    const client = `10.${octet()}.${octet()}.${octet()}`;
    // An account no earlier run used, since Redis keeps the counters.
    const account = `nobody-${Date.now()}-${Math.random().toString(36).slice(2)}@example.com`;
    const attempt = (gw: RunningService) =>
      fetch(`${gw.url}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': client },
        body: JSON.stringify({ email: account, password: 'wrong' }),
      });
    const statuses = [];
    for (const gw of [a, b, a, b, a]) statuses.push((await attempt(gw)).status);
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    const refused = await attempt(b);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(25);
  });
});

describe('gateway upstream failures and production mode', () => {
  it('answers 502 JSON without internals when the api is down', async () => {
    const gw = await gateway({ API_URL: 'http://127.0.0.1:1' });
    const res = await fetch(`${gw.url}/openapi.json`);
    expect(res.status).toBe(502);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ error: 'api unavailable', requestId: res.headers.get('x-request-id') });
    expect(text).not.toMatch(/ECONNREFUSED|at .*\.js/);
  });

  it('verifies RS256 tokens from a JWKS in production and refuses HS256 keyed with the public key', async () => {
    const api = await startStandInApi();
    closers.push(api.close);
    const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'idp-key-1', alg: 'RS256', use: 'sig' };
    const idp = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => idp.close(() => resolve())));
    const gw = await gateway({
      NODE_ENV: 'production',
      API_URL: api.url,
      API_INTERNAL_TOKEN: INTERNAL_TOKEN,
      JWKS_URL: `http://127.0.0.1:${(idp.address() as AddressInfo).port}/jwks.json`,
      JWT_ISSUER: 'https://idp.example.com',
    });
    const base = () => new SignJWT(claims({ tenant: 'acme' })).setSubject('idp-user').setIssuer('https://idp.example.com').setAudience(AUDIENCE).setExpirationTime('5m');
    const good = await base().setProtectedHeader({ alg: 'RS256', kid: 'idp-key-1' }).sign(privateKey);
    const me = await fetch(`${gw.url}/auth/me`, { headers: { authorization: `Bearer ${good}` } });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ sub: 'idp-user', tenant: 'acme' });

    const pem = new TextEncoder().encode(await exportSPKI(publicKey));
    const confused = await base().setProtectedHeader({ alg: 'HS256', kid: 'idp-key-1' }).sign(pem);
    expect((await fetch(`${gw.url}/auth/me`, { headers: { authorization: `Bearer ${confused}` } })).status).toBe(401);
    // No dev users in production: login does not exist.
    expect((await login(gw.url, 'demo@example.com', 'demo-password')).status).toBe(404);
  });

  it.each([
    ['dev users enabled', { DEV_USERS_ENABLED: 'true', JWKS_URL: 'http://127.0.0.1:1/jwks.json' }, 'DEV_USERS_ENABLED:'],
    ['no JWKS_URL', {}, 'JWKS_URL:'],
  ])('refuses to start in production with %s', async (_name, extra, named) => {
    const gw = await spawnService('gateway', {
      OTEL_SDK_DISABLED: 'true',
      NODE_ENV: 'production',
      API_URL: 'http://127.0.0.1:1',
      API_INTERNAL_TOKEN: INTERNAL_TOKEN,
      ...extra,
    });
    running.push(gw);
    expect(await gw.exited).toBe(78);
    expect(gw.output()).toContain(named);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPlatform, type Platform } from '../support/platform.js';
import { ConveyorClient } from '../e2e/client.js';
import { createTokenKit, type TokenKit } from './tokens.js';

const OBJECT = { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'], additionalProperties: false };

/**
 * The job type registry under attack: what an operator (or a stolen admin token) may send as a
 * schema, and what a tenant may send to a registered type. Every answer is a 4xx with the reason,
 * never a 5xx, and nothing is fetched from elsewhere.
 */
describe('job type registry: hostile input', () => {
  let platform: Platform;
  let tokens: TokenKit;
  let admin: ConveyorClient;
  let tenant: ConveyorClient;

  beforeAll(async () => {
    tokens = await createTokenKit();
    platform = await startPlatform({ pools: [], gatewayEnv: { JWT_DEV_SIGNING_KEY: tokens.signingKeyPem } });
    admin = new ConveyorClient(platform.gatewayUrl, await platform.login('admin@example.com', 'admin-password'));
    tenant = new ConveyorClient(platform.gatewayUrl, await platform.login());
  }, 240_000);
  afterAll(async () => platform?.stop());

  const put = (client: ConveyorClient, name: string, body: unknown) =>
    client.request(`/job-types/${name}`, { method: 'PUT', body: typeof body === 'string' ? body : JSON.stringify(body) });

  it('refuses schemas that cannot be compiled, or would reach out, with 422 and ajv’s reason', async () => {
    const cases: Array<[string, unknown]> = [
      ['remote $ref (never fetched)', { $ref: 'https://attacker.example/schema.json' }],
      ['local $ref to nothing', { $ref: '#/$defs/missing' }],
      ['another draft', { $schema: 'http://json-schema.org/draft-04/schema#', type: 'object' }],
      ['unknown format', { type: 'string', format: 'credit-card' }],
      ['invalid regex', { type: 'string', pattern: '([a-z' }],
      ['__proto__ as a keyword', JSON.parse('{"type":"object","__proto__":{"polluted":true}}')],
      ['type of the wrong kind', { type: 42 }],
    ];
    for (const [what, schema] of cases) {
      const res = await put(admin, 'hostile.schema', { schema, pool: 'default' });
      const body = (await res.json()) as { error: string; details?: { reason?: string } };
      expect(res.status, what).toBe(422);
      expect(body.error, what).toBe('invalid JSON Schema');
      expect(body.details?.reason, what).toEqual(expect.any(String));
    }
    const proto = await put(admin, 'hostile.schema', { schema: JSON.parse('{"properties":{"a":{"__proto__":{}}}}'), pool: 'default' });
    expect(await proto.json()).toMatchObject({ details: { reason: 'the key __proto__ is not allowed (at /properties/a/__proto__)' } });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((await admin.request('/job-types/hostile.schema')).status).toBe(404);
  });

  it('answers 400 for bad names, bodies and pool names, 422 for a pool without a queue, 404 for names that cannot exist', async () => {
    for (const name of ['UPPER', 'a..b', '-lead', `${'x'.repeat(65)}`, '%2e%2e', 'a%00b', 'a%20b']) {
      const res = await put(admin, name, { schema: OBJECT, pool: 'default' });
      expect(res.status, name).toBeGreaterThanOrEqual(400);
      expect(res.status, name).toBeLessThan(500);
      expect((await tenant.request(`/job-types/${name}`)).status, name).toBeGreaterThanOrEqual(400);
    }
    const bodies: Array<[string, unknown]> = [
      ['schema is a string', { schema: 'x', pool: 'default' }],
      ['schema missing', { pool: 'default' }],
      ['pool that is no pool name', { schema: OBJECT, pool: 'GPU pool' }],
      ['unknown field', { schema: OBJECT, pool: 'default', owner: 'me' }],
      ['maxAttempts out of range', { schema: OBJECT, pool: 'default', maxAttempts: 1e9 }],
      ['maxPayloadBytes out of range', { schema: OBJECT, pool: 'default', maxPayloadBytes: 1e12 }],
      ['an array', [1, 2]],
    ];
    for (const [what, body] of bodies) {
      const res = await put(admin, 'hostile.body', body);
      expect(res.status, what).toBe(400);
      expect(((await res.json()) as { details: unknown }).details, what).toBeTruthy();
    }
    expect((await put(admin, 'hostile.body', '{"schema":')).status).toBe(400);
    // A well-formed pool without a queue: its jobs would reach no queue.
    const gpu = await put(admin, 'hostile.body', { schema: OBJECT, pool: 'gpu' });
    expect(gpu.status).toBe(422);
    expect(((await gpu.json()) as { details: Array<{ path: string[] }> }).details[0]!.path).toEqual(['pool']);
  });

  it('keeps two types with the same $id apart, and a deeply nested schema costs a 4xx at most', async () => {
    const a = await put(admin, 'hostile.id-a', { schema: { $id: 'https://x.example/same', ...OBJECT }, pool: 'default' });
    const b = await put(admin, 'hostile.id-b', { schema: { $id: 'https://x.example/same', type: 'string' }, pool: 'default' });
    expect([a.status, b.status]).toEqual([201, 201]);
    expect((await tenant.submit({ type: 'hostile.id-a', payload: { n: 1 } })).res.status).toBe(202);
    expect((await tenant.submit({ type: 'hostile.id-b', payload: 'text' })).res.status).toBe(202);
    expect((await tenant.submit({ type: 'hostile.id-b', payload: { n: 1 } })).res.status).toBe(422);

    for (const depth of [5_000, 25_000]) {
      const deep = `{"pool":"default","schema":${'{"type":"object","properties":{"a":'.repeat(depth)}{}${'}}'.repeat(depth)}}`;
      const res = await put(admin, `hostile.deep-${depth}`, deep);
      expect(res.status, `depth ${depth}`).toBeGreaterThanOrEqual(200);
      expect(res.status, `depth ${depth}`).toBeLessThan(500);
    }
  });

  it('refuses a tenant’s hostile payloads to a registered type with 422 and paths, never storing them', async () => {
    expect((await put(admin, 'hostile.strict', { schema: OBJECT, pool: 'default', maxPayloadBytes: 256 })).status).toBe(201);
    const cases: Array<[string, string]> = [
      ['__proto__ key', '{"n":1,"__proto__":{"admin":true}}'],
      ['constructor key', '{"n":1,"constructor":{"prototype":{}}}'],
      ['number as string', '{"n":"1"}'],
      ['float', '{"n":1.5}'],
      ['array', '[1]'],
      ['null', 'null'],
    ];
    for (const [what, payload] of cases) {
      const res = await tenant.request('/jobs', { method: 'POST', body: `{"type":"hostile.strict","payload":${payload}}` });
      expect(res.status, what).toBe(422);
      const body = (await res.json()) as { details: Array<{ path: unknown[] }> };
      expect(body.details[0]!.path[0], what).toBe('payload');
    }
    const big = await tenant.submit({ type: 'hostile.strict', payload: { n: 1, pad: 'x'.repeat(300) } });
    expect(big.res.status).toBe(413);
    // A tenant cannot register or retire, even with a token naming scopes it was given for jobs.
    const forged = new ConveyorClient(platform.gatewayUrl, await tokens.valid({ sub: 'eve', tenant: 'evil', scope: 'jobs:read jobs:write points:grant' }));
    expect((await put(forged, 'hostile.strict', { schema: {}, pool: 'default' })).status).toBe(403);
    expect((await forged.request('/job-types/hostile.strict', { method: 'DELETE' })).status).toBe(403);
  });
});

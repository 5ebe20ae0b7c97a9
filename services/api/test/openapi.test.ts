import { validate, compileErrors } from '@readme/openapi-parser';
import { S3Client } from '@aws-sdk/client-s3';
import { createOutboxSignal } from '@conveyor/jobs';
import { createLogger, createPool } from '@conveyor/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { createSecretBox, STRICT_POLICY, WebhookSecrets } from '../src/webhooks/index.js';
import { JobTypeRegistry } from '../src/job-types/index.js';
import { gatewayAs, startApi, type ApiUnderTest } from './support/api-under-test.js';

type Doc = { openapi: string; paths: Record<string, Record<string, { requestBody?: unknown; responses: Record<string, unknown> }>> };

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

/** Every method + path the express app really routes, read from its router (405 catch-alls excluded). */
function appRoutes(): Set<string> {
  const pool = createPool({ connectionString: 'postgres://nobody@127.0.0.1:1/none' });
  const logger = createLogger({ service: 'test', level: 'silent' });
  const app = createApp({
    pool,
    outbox: createOutboxSignal({ pool, logger }),
    s3: new S3Client({ region: 'us-east-1' }),
    bucket: 'b',
    resultUrlTtlSeconds: 60,
    internalToken: 'x'.repeat(16),
    bodyLimitBytes: 1024,
    runAtWindow: { maxDaysBehind: 1, maxDaysAhead: 365 },
    pointsMaxGrant: 10_000,
    logger,
    webhookSecrets: new WebhookSecrets(pool, createSecretBox('x'.repeat(16))),
    webhookPolicy: STRICT_POLICY,
    webhookLog: { circuit: () => ({ state: 'closed' }), wake: () => undefined, instance: 'test' },
    jobTypes: new JobTypeRegistry({ pool, logger, refreshMs: 60_000 }),
  });
  void pool.end();
  const found = new Set<string>();
  const walk = (stack: Layer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const [method, on] of Object.entries(layer.route.methods)) {
          if (on && method !== '_all') found.add(`${method} ${layer.route.path.replace(/:(\w+)/g, '{$1}')}`);
        }
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack);
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack);
  return found;
}

describe('GET /openapi.json', () => {
  let env: ApiUnderTest;
  let doc: Doc;

  beforeAll(async () => {
    env = await startApi();
    const res = await fetch(`${env.api.url}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    doc = (await res.json()) as Doc;
  });
  afterAll(async () => {
    await env?.stop();
  });

  it('is a valid OpenAPI 3 document', async () => {
    expect(doc.openapi).toMatch(/^3\./);
    const result = await validate(structuredClone(doc) as never);
    if (!result.valid) throw new Error(compileErrors(result));
    expect(result.valid).toBe(true);
  });

  it('documents exactly the routes the app serves', () => {
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method} ${path}`)),
    );
    expect([...documented].sort()).toEqual([...appRoutes()].sort());
    for (const route of [
      'post /jobs', 'get /jobs', 'get /jobs/{jobId}', 'delete /jobs/{jobId}', 'get /jobs/{jobId}/result',
      'get /jobs/{jobId}/events', 'post /generate-report', 'post /points/reservations', 'get /points/{userId}',
      'get /notifications/unread', 'post /notifications/{id}/read', 'get /openapi.json',
      'get /job-types', 'get /job-types/{name}', 'put /job-types/{name}', 'delete /job-types/{name}',
    ]) {
      expect(documented.has(route), route).toBe(true);
    }
  });

  it('answers every documented route in the running process (never the router’s 404 or a 405)', async () => {
    const client = gatewayAs(env.api.url, { tenant: 'docs', subject: 'u' });
    const sample: Record<string, string> = { name: 'noop', jobId: '00000000-0000-4000-8000-000000000000', id: '00000000-0000-4000-8000-000000000000', deliveryId: '00000000-0000-4000-8000-000000000000', userId: 'u' };
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of Object.keys(item)) {
        const url = path.replace(/\{(\w+)\}/g, (_, name: string) => sample[name]!);
        const res = await client(url, { method: method.toUpperCase(), ...(method === 'post' || method === 'put' ? { body: {} } : {}) });
        // A live stream (GET /jobs/events) never ends by itself: its answering is what is checked.
        const live = res.headers.get('content-type')?.startsWith('text/event-stream');
        const text = live ? (await res.body?.cancel(), '') : await res.text();
        expect(res.status, `${method} ${path}`).not.toBe(405);
        if (res.status === 404) expect(JSON.parse(text).error, `${method} ${path}`).not.toBe('not found');
      }
    }
  });

  it('gives every JSON request body and every 2xx JSON answer an example, and the request examples are accepted as they stand', async () => {
    type Media = Record<string, { example?: unknown; examples?: Record<string, { value: unknown }> }>;
    // One example, or several named ones (the first stands for them).
    const exampleOf = (media: { example?: unknown; examples?: Record<string, { value: unknown }> } | undefined) =>
      media?.example ?? Object.values(media?.examples ?? {})[0]?.value;
    const missing: string[] = [];
    const requests: Array<{ method: string; path: string; example: unknown }> = [];
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item) as Array<[string, { requestBody?: { content: Media }; responses: Record<string, { content?: Media }> }]>) {
        const body = op.requestBody?.content['application/json'];
        if (body && exampleOf(body) === undefined) missing.push(`${method} ${path} request`);
        if (exampleOf(body) !== undefined) requests.push({ method, path, example: exampleOf(body) });
        for (const [status, response] of Object.entries(op.responses)) {
          if (!status.startsWith('2') || path === '/openapi.json') continue;
          for (const [type, media] of Object.entries(response.content ?? {})) {
            if ((type === 'application/json' || type === 'text/event-stream') && exampleOf(media) === undefined) missing.push(`${method} ${path} ${status} ${type}`);
          }
        }
      }
    }
    expect(missing).toEqual([]);
    // Examples that describe a request the api would refuse would teach the wrong thing.
    const admin = gatewayAs(env.api.url, { tenant: 'docs', subject: 'u', scopes: 'jobs:read jobs:write points:grant conveyor:admin' });
    for (const { method, path, example } of requests.filter((r) => !r.path.includes('{'))) {
      // A fixed date in an example leaves the accepted window sooner or later: that is not what is tested here.
      const soon = new Date(Date.now() + 60_000).toISOString();
      const body = JSON.parse(JSON.stringify(example), (key, value: unknown) => (key === 'runAt' && typeof value === 'string' ? soon : value)) as unknown;
      const res = await admin(path, { method: method.toUpperCase(), body });
      expect(res.status, `${method} ${path}: ${await res.text()}`).toBeLessThan(300);
    }
  });

  it('documents a request body per built-in job type from the catalog schemas, one for registered types, the error shape and Retry-After', () => {
    const text = JSON.stringify(doc);
    const createJob = (doc as unknown as { components: { schemas: Record<string, { anyOf: Array<{ properties: { type: { enum?: string[] }; payload: { required?: string[] } } }> }> } })
      .components.schemas.CreateJob!;
    const builtins = createJob.anyOf.filter((s) => s.properties.type.enum);
    const byType = Object.fromEntries(builtins.map((s) => [s.properties.type.enum![0], s.properties.payload]));
    expect(Object.keys(byType).sort()).toEqual(['noop', 'report.generate', 'sleep']);
    expect(createJob.anyOf).toHaveLength(4);
    expect(doc.paths['/job-types/{name}']!.put!.responses).toHaveProperty('422');
    expect(byType.sleep!.required).toEqual(['ms']);
    expect(doc.paths['/jobs']!.post!.responses['202']).toMatchObject({ headers: { 'Retry-After': expect.any(Object), Location: expect.any(Object) } });
    expect(doc.paths['/jobs/{jobId}/result']!.get!.responses).toHaveProperty('303');
    // Prefer: wait on the single submits: the header, the outcomes it may bring, Preference-Applied on them.
    for (const path of ['/jobs', '/generate-report']) {
      const submit = doc.paths[path]!.post! as unknown as { parameters: Array<{ name: string; in: string }>; responses: Record<string, { headers?: Record<string, unknown> }> };
      expect(submit.parameters, path).toContainEqual(expect.objectContaining({ name: 'Prefer', in: 'header' }));
      for (const status of ['200', '204', '303']) expect(submit.responses[status]?.headers, `${path} ${status}`).toHaveProperty('Preference-Applied');
      expect(submit.responses['202']!.headers).not.toHaveProperty('Preference-Applied');
    }
    expect(JSON.stringify(doc.paths['/jobs/batch'])).not.toContain('Preference-Applied');
    expect(text).toContain('"#/components/schemas/Error"');
    expect(doc.paths['/jobs']!.post!.responses).toHaveProperty('413');
  });
});

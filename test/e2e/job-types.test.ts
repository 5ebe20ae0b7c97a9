import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetQueueUrlCommand, ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import { createSqsClient } from '@conveyor/platform';
import { topology } from '@conveyor/jobs';
import pg from 'pg';
import { awsOptions } from '../support/infra.js';
import { startPlatform, type Platform } from '../support/platform.js';
import { waitUntil } from '../support/wait.js';
import { startService, type RunningService } from '../support/service-process.js';
import { EXAMPLE_JOB_TYPE } from '../../services/api/src/job-types/schemas.js';
import { ConveyorClient } from './client.js';

const NAME = 'billing.invoice-send';
// The OpenAPI document's example, so the example is proven to register.
const V1 = EXAMPLE_JOB_TYPE;
// v2 caps the amount: jobs validated against v1 keep v1, and a submit may still name v1.
const V2 = { ...V1, schema: { ...V1.schema, properties: { ...V1.schema.properties, amountCents: { type: 'integer', minimum: 1, maximum: 100 } } } };

/**
 * The registry through the gateway, on the real stack. No worker serves the default pool here, so
 * the messages of a registered type stay on that pool's queue for the test to read. A second api
 * process (with its own gateway), started before any type is registered, shows the pick-up without
 * restart; its fallback refresh is an hour, so only the change notification can explain it.
 */
describe('job types: registered, not compiled', () => {
  let platform: Platform;
  let admin: ConveyorClient;
  let demo: ConveyorClient;
  let demoOnB: ConveyorClient;
  let apiB: RunningService;
  let gatewayB: RunningService;
  let db: pg.Pool;

  beforeAll(async () => {
    // Retention every half second: a result past its type's resultRetentionSeconds is dropped at once.
    platform = await startPlatform({ pools: ['reports'], env: { RETENTION_INTERVAL_MS: '500' } });
    apiB = await startService('api', { ...platform.env, JOB_TYPES_REFRESH_MS: '3600000' });
    gatewayB = await startService('gateway', { ...platform.env, API_URL: apiB.url });
    admin = new ConveyorClient(platform.gatewayUrl, await platform.login('admin@example.com', 'admin-password'));
    demo = new ConveyorClient(platform.gatewayUrl, await platform.login());
    // Each gateway signs its own dev tokens: log in on B for B.
    const login = await fetch(`${gatewayB.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'demo@example.com', password: 'demo-password' }),
    });
    demoOnB = new ConveyorClient(gatewayB.url, ((await login.json()) as { accessToken: string }).accessToken);
    db = new pg.Pool({ connectionString: platform.database.url, max: 2 });
  }, 240_000);
  afterAll(async () => {
    await db?.end();
    await Promise.all([gatewayB?.stop('SIGKILL'), apiB?.stop('SIGKILL')]);
    await platform?.stop();
  });

  const put = (client: ConveyorClient, name: string, body: unknown) =>
    client.request(`/job-types/${name}`, { method: 'PUT', body: JSON.stringify(body) });
  const jobRow = async (id: unknown) =>
    (await db.query('SELECT type_version, pool, max_attempts, timeout_seconds FROM jobs WHERE id = $1', [id])).rows[0];

  it('refuses registering and retiring to a tenant without conveyor:admin (403), lets it read', async () => {
    expect((await put(demo, NAME, V1)).status).toBe(403);
    expect((await demo.request(`/job-types/noop`, { method: 'DELETE' })).status).toBe(403);
    const list = await demo.request('/job-types');
    expect(list.status).toBe(200);
    const names = ((await list.json()) as { items: Array<{ name: string }> }).items.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['noop', 'sleep', 'points.grant', 'report.generate']));
    expect(names).not.toContain(NAME);
  });

  it('refuses an invalid JSON Schema with 422 and ajv’s reason', async () => {
    const typo = await put(admin, NAME, { ...V1, schema: { type: 'object', properties: { a: { type: 'strin' } } } });
    expect(typo.status).toBe(422);
    expect(await typo.json()).toMatchObject({ error: 'invalid JSON Schema', details: { reason: expect.stringMatching(/type/) } });
    const unknownKeyword = await put(admin, NAME, { ...V1, schema: { type: 'object', requird: ['a'] } });
    expect(unknownKeyword.status).toBe(422);
    expect(((await unknownKeyword.json()) as { details: { reason: string } }).details.reason).toMatch(/unknown keyword: "requird"/);
    const urgent = await put(admin, NAME, { ...V1, priority: 'urgent' });
    expect(urgent.status).toBe(422);
    expect(await urgent.json()).toMatchObject({ details: [{ path: ['priority'], valid: ['high', 'normal', 'low'] }] });
    expect((await admin.request(`/job-types/${NAME}`)).status).toBe(404);
  });

  it('registers a type, idempotently, and a second api process accepts it at once without a restart', async () => {
    const created = await put(admin, NAME, V1);
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe(`/job-types/${NAME}`);
    expect(await created.json()).toMatchObject({ name: NAME, latestVersion: 1, retiredAt: null, latest: { version: 1, pool: 'default', maxAttempts: 5, priority: 'normal' } });
    const registeredAt = performance.now();
    let pickUpMs = -1;
    for (;;) {
      const { res } = await demoOnB.submit({ type: NAME, payload: { invoiceId: 'inv-1', amountCents: 250 } });
      if (res.status === 202) {
        pickUpMs = performance.now() - registeredAt;
        break;
      }
      expect(res.status).toBe(422);
      expect(performance.now() - registeredAt, 'api B never picked the type up').toBeLessThan(5_000);
      await new Promise((r) => setTimeout(r, 20));
    }
    console.log(`job type pick-up by a second api process: ${pickUpMs.toFixed(0)} ms`);
    const same = await put(admin, NAME, V1);
    expect(same.status).toBe(200);
    expect(await same.json()).toMatchObject({ latestVersion: 1 });
  });

  it('accepts a valid payload (202) with the type’s defaults and version, routed to its pool’s queue', async () => {
    const { res, body } = await demo.submit({ type: NAME, payload: { invoiceId: 'inv-2', amountCents: 900 } });
    expect(res.status).toBe(202);
    expect(await jobRow(body.jobId)).toEqual({ type_version: 1, pool: 'default', max_attempts: 5, timeout_seconds: 60 });
    const sqs = createSqsClient(awsOptions);
    try {
      const queue = topology(platform.namespace).queues.find((q) => q.pool.name === 'default')!.queue;
      const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: queue }));
      const seen: Message[] = [];
      const deadline = Date.now() + 30_000;
      while (!seen.some((m) => m.Body?.includes(String(body.jobId))) && Date.now() < deadline) {
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 0, MessageAttributeNames: ['All'] }),
        );
        seen.push(...Messages);
      }
      const message = seen.find((m) => m.Body?.includes(String(body.jobId)));
      expect(message, 'the job reached the default pool’s queue').toBeDefined();
      expect(message!.MessageAttributes?.pool?.StringValue).toBe('default');
      expect(message!.MessageAttributes?.type?.StringValue).toBe(NAME);
      expect(JSON.parse(message!.Body!)).toMatchObject({ type: NAME, pool: 'default', payload: { invoiceId: 'inv-2', amountCents: 900 } });
    } finally {
      sqs.destroy();
    }
  });

  it('answers 422 with the failing paths for an invalid payload, and 422 naming an unknown type', async () => {
    const bad = await demo.submit({ type: NAME, payload: { invoiceId: '', amountCents: 'ten', extra: true } });
    expect(bad.res.status).toBe(422);
    expect(bad.body.error).toBe(`payload does not match the schema of ${NAME} v1`);
    const details = bad.body.details as Array<{ path: unknown[]; keyword: string; message: string }>;
    expect(details.map((d) => d.path)).toEqual(
      expect.arrayContaining([['payload', 'invoiceId'], ['payload', 'amountCents'], ['payload', 'extra']]),
    );
    expect(details.find((d) => d.keyword === 'minLength')?.message).toBe('must NOT have fewer than 1 characters');
    const missing = await demo.submit({ type: NAME, payload: {} });
    expect((missing.body.details as Array<{ path: unknown[] }>).map((d) => d.path)).toEqual([['payload', 'invoiceId'], ['payload', 'amountCents']]);
    const unknown = await demo.submit({ type: 'billing.nope', payload: {} });
    expect(unknown.res.status).toBe(422);
    expect(unknown.body).toMatchObject({ error: 'unknown job type "billing.nope"', details: [{ path: ['type'] }] });
  });

  it('adds a version when the schema changes; earlier jobs keep theirs, and a submit may name one', async () => {
    const { body: before } = await demo.submit({ type: NAME, payload: { invoiceId: 'inv-3', amountCents: 500 } });
    const v2 = await put(admin, NAME, V2);
    expect(v2.status).toBe(201);
    const shown = (await v2.json()) as { latestVersion: number; versions: Array<{ version: number }> };
    expect(shown.latestVersion).toBe(2);
    expect(shown.versions.map((v) => v.version)).toEqual([1, 2]);

    expect((await jobRow(before.jobId)).type_version).toBe(1);
    const over = await demo.submit({ type: NAME, payload: { invoiceId: 'inv-4', amountCents: 500 } });
    expect(over.res.status).toBe(422);
    expect(over.body.details).toEqual([{ path: ['payload', 'amountCents'], keyword: 'maximum', message: 'must be <= 100' }]);
    const onV1 = await demo.submit({ type: NAME, typeVersion: 1, payload: { invoiceId: 'inv-4', amountCents: 500 } });
    expect(onV1.res.status).toBe(202);
    expect((await jobRow(onV1.body.jobId)).type_version).toBe(1);
    const onV2 = await demo.submit({ type: NAME, payload: { invoiceId: 'inv-5', amountCents: 50 } });
    expect((await jobRow(onV2.body.jobId)).type_version).toBe(2);
    const noV9 = await demo.submit({ type: NAME, typeVersion: 9, payload: {} });
    expect(noV9.res.status).toBe(422);
    expect(noV9.body.details).toEqual([{ path: ['typeVersion'], message: `job type "${NAME}" has no version 9 (latest: 2)` }]);
  });

  it("keeps a result for the type's resultRetentionSeconds, then answers 410 and keeps the job", async () => {
    const current = (await (await admin.request('/job-types/report.generate')).json()) as { versions: Array<Record<string, unknown>> };
    const latest = current.versions.at(-1)!;
    const { schema, pool, maxAttempts, timeoutSeconds, priority, maxPayloadBytes } = latest;
    const added = await put(admin, 'report.generate', { schema, pool, maxAttempts, timeoutSeconds, priority, maxPayloadBytes, resultRetentionSeconds: 60 });
    expect(added.status).toBe(201);

    const { body } = await demo.submit({ type: 'report.generate', payload: { format: 'json' } });
    const jobId = String(body.jobId);
    expect(await demo.waitForFinish(jobId)).toMatchObject({ status: 'success' });
    expect((await demo.request(`/jobs/${jobId}/result`)).status).toBe(200);

    // A minute and more after it finished, as the scheduler's retention sees it.
    await db.query(`UPDATE jobs SET finished_at = now() - interval '61 seconds' WHERE id = $1`, [jobId]);
    let gone: Response | undefined;
    await waitUntil(async () => (gone = await demo.request(`/jobs/${jobId}/result`)).status === 410, 15_000, 'the result to expire');
    expect(await gone!.json()).toMatchObject({ error: expect.stringContaining('the result expired'), details: { expiredAt: expect.any(String) } });
    expect((await demo.job(jobId)).body).toMatchObject({ status: 'success' });
  });

  it('retires a type: new submits 422, every version stays readable, built-ins cannot be retired', async () => {
    const retired = await admin.request(`/job-types/${NAME}`, { method: 'DELETE' });
    expect(retired.status).toBe(200);
    expect(await retired.json()).toMatchObject({ name: NAME, retiredAt: expect.any(String), latestVersion: 2 });
    const refused = await demo.submit({ type: NAME, payload: { invoiceId: 'inv-6', amountCents: 5 } });
    expect(refused.res.status).toBe(422);
    expect(refused.body.error).toBe(`job type "${NAME}" is retired`);
    expect((await admin.request(`/job-types/${NAME}`, { method: 'DELETE' })).status).toBe(200);
    expect((await admin.request('/job-types/noop', { method: 'DELETE' })).status).toBe(409);
    expect((await admin.request('/job-types/nothing.here', { method: 'DELETE' })).status).toBe(404);
    const detail = (await (await demo.request(`/job-types/${NAME}`)).json()) as { versions: unknown[] };
    expect(detail.versions).toHaveLength(2);
  });
});

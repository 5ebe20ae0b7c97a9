import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPlatform, type Platform } from '../support/platform.js';
import { startWebhookReceiver } from '../support/webhook-receiver.js';
import { waitFor } from '../support/wait.js';
import { createTokenKit } from '../hostile/tokens.js';
import { ConveyorClient } from './client.js';
import type { DeliveryView as Delivery } from '../../services/api/src/webhooks/schemas.js';

const MISSING = '0b4c4d2e-8d1c-4a8e-9f00-000000000000';

/** The webhook delivery log (issue 22) through the gateway, against real receivers and the real dispatcher. */
describe('GET /jobs/{id}/deliveries and POST .../redeliver end to end', () => {
  let platform: Platform;
  let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let demo: ConveyorClient;
  let reader: ConveyorClient;
  let other: ConveyorClient;
  let admin: ConveyorClient;
  let delivered: { jobId: string; delivery: Delivery };

  const deliveries = async (client: ConveyorClient, jobId: string) => {
    const res = await client.request(`/jobs/${jobId}/deliveries`);
    expect(res.status, `GET /jobs/${jobId}/deliveries`).toBe(200);
    return ((await res.json()) as { items: Delivery[] }).items;
  };
  const redeliver = (client: ConveyorClient, jobId: string, deliveryId: string) => client.request(`/jobs/${jobId}/deliveries/${deliveryId}/redeliver`, { method: 'POST', body: '{}' });
  /** A finished job's only delivery once it satisfies `done`. */
  const settled = (jobId: string, done: (d: Delivery) => boolean) =>
    waitFor(`the delivery of ${jobId}`, async () => (await deliveries(demo, jobId)).find(done), 60_000, 200);
  const submit = async (path: string) => String((await demo.submit({ type: 'noop', payload: {}, callbackUrl: `${receiver.base}${path}` })).body.jobId);

  beforeAll(async () => {
    const tokens = await createTokenKit();
    platform = await startPlatform({ pools: ['default'], env: { WEBHOOK_ALLOWED_HOSTS: '127.0.0.2' }, gatewayEnv: { JWT_DEV_SIGNING_KEY: tokens.signingKeyPem } });
    const as = async (tenant: string, scope: string) => new ConveyorClient(platform.gatewayUrl, await tokens.valid({ sub: `${tenant}-user`, tenant, scope }, '30m'));
    demo = await as('demo', 'jobs:read jobs:write');
    reader = await as('demo', 'jobs:read');
    other = await as('other', 'jobs:read jobs:write');
    admin = await as('ops', 'jobs:read jobs:write conveyor:admin');
    receiver = await startWebhookReceiver();
  }, 240_000);
  afterAll(async () => {
    await receiver?.close();
    await platform?.stop();
  });

  it('shows every attempt of a delivery that failed first: status codes, latency, the retry it scheduled', async () => {
    const jobId = await submit('/fail-once/log');
    const delivery = await settled(jobId, (d) => d.status === 'delivered');
    expect(delivery).toMatchObject({
      url: `${receiver.base}/fail-once/log`,
      attempts: 2,
      nextAttemptAt: null,
      lastStatusCode: 204,
      lastError: null,
      failureReason: null,
      finishedAt: expect.any(String),
      circuit: { state: 'closed', observedBy: expect.stringMatching(/.\/\d+$/) },
    });
    const [first, second] = delivery.attemptLog;
    expect(delivery.attemptLog).toHaveLength(2);
    expect(first).toMatchObject({ attempt: 1, statusCode: 500, error: 'webhook receiver answered 500', nextAttemptAt: expect.any(String) });
    expect(second).toMatchObject({ attempt: 2, statusCode: 204, error: null, nextAttemptAt: null });
    for (const a of delivery.attemptLog) expect(a.latencyMs).toBeGreaterThanOrEqual(0);
    // The retry was scheduled after the first attempt, and the second attempt waited for it.
    expect(Date.parse(first!.nextAttemptAt!)).toBeGreaterThan(Date.parse(first!.startedAt));
    expect(Date.parse(second!.startedAt)).toBeGreaterThanOrEqual(Date.parse(first!.nextAttemptAt!) - 5);
    expect(receiver.hits.filter((h) => h.path === '/fail-once/log')).toHaveLength(2);
    delivered = { jobId, delivery };
  });

  it('redelivers a delivered webhook: the same event arrives again, as attempt 3 in the log', async () => {
    const { jobId, delivery } = delivered;
    const res = await redeliver(demo, jobId, delivery.deliveryId);
    expect(res.status).toBe(202);
    const answered = (await res.json()) as Delivery;
    expect(answered).toMatchObject({ deliveryId: delivery.deliveryId, createdAt: delivery.createdAt });
    // Right after the commit the dispatcher may already be sending it, even done.
    if (answered.status === 'pending') expect(answered.finishedAt).toBeNull();

    const again = await settled(jobId, (d) => d.attempts === 3 && d.status === 'delivered');
    expect(again.attemptLog.map((a) => [a.attempt, a.statusCode])).toEqual([[1, 500], [2, 204], [3, 204]]);
    const hits = receiver.hits.filter((h) => h.path === '/fail-once/log');
    expect(hits).toHaveLength(3);
    expect(hits[2]!.headers['conveyor-event-id']).toBe(hits[1]!.headers['conveyor-event-id']);
    expect(hits[2]!.body).toBe(hits[1]!.body);
    expect(JSON.parse(hits[2]!.body)).toMatchObject({ jobId, status: 'success' });
  });

  it('redelivers a failed webhook with a fresh try; refuses a pending one (409)', async () => {
    const gone = await submit('/gone/once');
    const failed = await settled(gone, (d) => d.status === 'failed');
    expect(failed).toMatchObject({ attempts: 1, failureReason: 'rejected', lastStatusCode: 410, nextAttemptAt: null });
    expect((await redeliver(demo, gone, failed.deliveryId)).status).toBe(202);
    const refused = await settled(gone, (d) => d.attempts === 2 && d.status === 'failed');
    expect(refused.attemptLog.map((a) => a.statusCode)).toEqual([410, 410]);
    expect(receiver.hits.filter((h) => h.path === '/gone/once')).toHaveLength(2);

    // /poison answers 503: the delivery stays pending, waiting for its retries.
    const poisoned = await submit('/poison/pending');
    const pending = await settled(poisoned, (d) => d.status === 'pending' && d.attempts >= 1);
    const res = await redeliver(demo, poisoned, pending.deliveryId);
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ error: expect.stringMatching(/still pending/) });
  });

  it('shows the open circuit breaker of a failing destination, with when it lets a probe through', async () => {
    const failing = await startWebhookReceiver();
    try {
      // Five failures in the breaker's window (volumeThreshold 5, errors 100 %) open it.
      const jobIds = await Promise.all(
        Array.from({ length: 6 }, async (_, i) => String((await demo.submit({ type: 'noop', payload: {}, callbackUrl: `${failing.base}/poison/${i}` })).body.jobId)),
      );
      const open = await waitFor(
        'the open circuit',
        async () => (await deliveries(demo, jobIds[0]!)).find((d) => d.circuit.state === 'open'),
        60_000,
        200,
      );
      expect(open.circuit.reopensInMs).toBeGreaterThan(0);
      expect(open.circuit.reopensInMs).toBeLessThanOrEqual(30_000);
      // Another tenant's breaker for the same destination is its own: theirs is closed.
      const theirs = String((await other.submit({ type: 'noop', payload: {}, callbackUrl: `${failing.base}/poison/other` })).body.jobId);
      const otherDelivery = await waitFor('the other tenant\'s delivery', async () => (await deliveries(other, theirs))[0], 60_000, 200);
      expect(otherDelivery.circuit.state).toBe('closed');
    } finally {
      await failing.close();
    }
  });

  it('keeps another tenant out (404 as for a missing job), lets an admin see it, and needs jobs:write to redeliver', async () => {
    const { jobId, delivery } = delivered;
    const theirs = await other.request(`/jobs/${jobId}/deliveries`);
    const missing = await other.request(`/jobs/${MISSING}/deliveries`);
    expect(theirs.status).toBe(404);
    expect(missing.status).toBe(404);
    const [a, b] = [(await theirs.json()) as Record<string, unknown>, (await missing.json()) as Record<string, unknown>];
    expect({ ...a, requestId: undefined }).toEqual({ ...b, requestId: undefined, error: 'job not found' });

    const attempts = delivery.attempts;
    const stolen = await redeliver(other, jobId, delivery.deliveryId);
    expect(stolen.status).toBe(404);
    expect(await stolen.json()).toMatchObject({ error: 'job not found' });
    expect((await redeliver(reader, jobId, delivery.deliveryId)).status).toBe(403);

    const seen = await deliveries(admin, jobId);
    expect(seen.map((d) => d.deliveryId)).toEqual([delivery.deliveryId]);
    // Neither the refused redeliveries nor the admin's read sent anything.
    expect((await deliveries(demo, jobId))[0]!.attempts).toBe(attempts + 1);
  });

  it('answers 404 for unknown and malformed ids, 405 for another method, and an empty list for a job without webhooks', async () => {
    const { jobId, delivery } = delivered;
    const plain = String((await demo.submit({ type: 'noop', payload: {} })).body.jobId);
    expect(await deliveries(demo, plain)).toEqual([]);
    const cases: Array<[string, string, string]> = [
      ['GET', `/jobs/${MISSING}/deliveries`, 'job not found'],
      ['GET', '/jobs/not-a-uuid/deliveries', 'job not found'],
      ['GET', "/jobs/1'%20OR%20'1'='1/deliveries", 'job not found'],
      ['POST', `/jobs/${MISSING}/deliveries/${delivery.deliveryId}/redeliver`, 'job not found'],
      ['POST', `/jobs/${jobId}/deliveries/${MISSING}/redeliver`, 'delivery not found'],
      ['POST', `/jobs/${jobId}/deliveries/not-a-uuid/redeliver`, 'delivery not found'],
      // A real delivery, named under another job of the same tenant.
      ['POST', `/jobs/${plain}/deliveries/${delivery.deliveryId}/redeliver`, 'delivery not found'],
    ];
    for (const [method, path, error] of cases) {
      const res = await demo.request(path, { method, ...(method === 'POST' ? { body: '{}' } : {}) });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(await res.json(), `${method} ${path}`).toMatchObject({ error });
    }
    expect((await demo.request(`/jobs/${jobId}/deliveries`, { method: 'DELETE' })).status).toBe(405);
    expect((await demo.request(`/jobs/${jobId}/deliveries/${delivery.deliveryId}/redeliver`)).status).toBe(405);
    expect((await fetch(`${platform.gatewayUrl}/jobs/${jobId}/deliveries`)).status).toBe(401);
  });
});

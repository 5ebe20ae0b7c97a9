import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafka, createLogger, createPool, Registry, type Admin, type Kafka, type Pool, type Producer } from '@conveyor/platform';
import { createJob, migrateJobsSchema, topology, type Topology } from '@conveyor/jobs';
import { startJobEventsConsumer } from '../src/events/index.js';
import { createSecretBox, createWebhookMetrics, startWebhookDispatcher, targetPolicy, verifyWebhook, WebhookSecrets, type WebhookDispatcher } from '../src/webhooks/index.js';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.js';
import { infra } from '../../../test/support/infra.js';
import { waitUntil } from '../../../test/support/wait.js';

const logger = createLogger({ service: 'events-consumer-test', level: 'warn' });

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A webhook receiver whose answer to each request the test decides. */
async function startReceiver(answer: (n: number, res: ServerResponse) => void) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      answer(received.length, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/conveyor`;
  return {
    url,
    received,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(r));
    },
  };
}

describe('jobs.events consumer: notifications and signed webhooks (real Postgres and Kafka)', () => {
  let db: TestDatabase;
  let pool: Pool;
  let kafka: Kafka;
  let admin: Admin;
  let producer: Producer;
  let topo: Topology;
  let consumer: { stop(): Promise<void> };
  let dispatcher: WebhookDispatcher;
  let secrets: WebhookSecrets;
  let SECRET: string;
  const registry = new Registry();
  const receivers: Array<{ close: () => Promise<unknown> }> = [];
  let nextEventId = 1;

  async function finishedJob(tenant: string, callbackUrl?: string, status: 'success' | 'failed' = 'success') {
    const { jobId } = await createJob(pool, { tenant, owner: `${tenant}-owner`, type: 'noop', payload: {}, callbackUrl });
    await pool.query(`UPDATE jobs SET status = $2, finished_at = now(), error = $3 WHERE id = $1`, [
      jobId,
      status,
      status === 'failed' ? 'handler exploded' : null,
    ]);
    return jobId;
  }

  function event(jobId: string, tenant: string, type: string, data: Record<string, unknown> = {}) {
    return {
      eventId: String(nextEventId++),
      jobId,
      tenant,
      owner: `${tenant}-owner`,
      jobType: 'noop',
      type,
      data,
      createdAt: new Date().toISOString(),
    };
  }

  async function produce(...values: Array<{ key: string; value: string }>) {
    await producer.send({ topic: topo.topics.events, acks: -1, messages: values });
  }
  const asRecord = (e: ReturnType<typeof event>) => ({ key: e.jobId, value: JSON.stringify(e) });

  async function notifications(jobId: string) {
    const { rows } = await pool.query('SELECT tenant, owner, kind, message FROM notifications WHERE job_id = $1', [jobId]);
    return rows;
  }

  async function metric(name: string): Promise<number> {
    const found = await registry.getSingleMetric(name)?.get();
    return found?.values.reduce((sum, v) => sum + v.value, 0) ?? 0;
  }

  async function committedOffset(): Promise<number> {
    const [result] = await admin.fetchOffsets({ groupId: topo.consumerGroups.events, topics: [topo.topics.events] });
    return Number(result?.partitions[0]?.offset ?? -1);
  }

  async function endOffset(): Promise<number> {
    const [p] = await admin.fetchTopicOffsets(topo.topics.events);
    return Number(p!.high);
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 6 });
    await migrateJobsSchema(pool);
    const namespace = `evt-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    topo = topology(namespace);
    kafka = createKafka({ brokers: infra.kafkaBrokers, clientId: 'events-consumer-test', logger });
    admin = kafka.admin();
    await admin.connect();
    // One partition: the order of records in a test is the order they are consumed.
    await admin.createTopics({ topics: [{ topic: topo.topics.events, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
    producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    secrets = new WebhookSecrets(pool, createSecretBox('events-consumer-test-key'));
    SECRET = (await secrets.forTenant('acme')).current.secret;
    const webhookMetrics = createWebhookMetrics(registry);
    dispatcher = startWebhookDispatcher({
      pool,
      secrets,
      // The receivers here listen on loopback, which the operator allows explicitly.
      policy: targetPolicy([], ['127.0.0.1/32']),
      logger,
      metrics: webhookMetrics,
      timeoutMs: 2_000,
      maxAttempts: 4,
      backoffBaseMs: 50,
      backoffMaxMs: 200,
      pollIntervalMs: 50,
    });
    consumer = await startJobEventsConsumer({
      kafka,
      pool,
      topology: topo,
      logger,
      registry,
      fromBeginning: true,
      commitIntervalMs: 100,
      publicBaseUrl: 'https://conveyor.example.com',
      webhookMetrics,
      onDeliveriesStored: () => dispatcher.wake(),
    });
  });

  afterAll(async () => {
    await consumer?.stop();
    await dispatcher?.stop();
    await producer?.disconnect();
    await admin?.deleteTopics({ topics: [topo.topics.events] }).catch(() => undefined);
    await admin?.disconnect();
    for (const r of receivers) await r.close();
    await pool?.end();
    await db?.drop();
  });

  it('a terminal event delivered twice writes exactly one notification for the owner', async () => {
    const jobId = await finishedJob('acme');
    const marker = await finishedJob('acme');
    const done = event(jobId, 'acme', 'succeeded');
    const progress = event(jobId, 'acme', 'progress', { progress: 0.5 });
    await produce(asRecord(progress), asRecord(done), asRecord(done), asRecord(event(marker, 'acme', 'cancelled')));
    // The marker comes after both copies on the single partition: once it is written, both were handled.
    await waitUntil(async () => (await notifications(marker)).length === 1, 20_000, 'the marker notification');
    expect(await notifications(jobId)).toEqual([
      { tenant: 'acme', owner: 'acme-owner', kind: 'succeeded', message: `Job noop ${jobId} succeeded.` },
    ]);
    expect(await metric('conveyor_notifications_written_total')).toBe(2);
  });

  it('a burst of terminal events is handled together: one notice per job, a vanished job skipped, every offset committed', async () => {
    const jobIds = await Promise.all(Array.from({ length: 40 }, (_, i) => finishedJob('burst', undefined, i % 4 === 0 ? 'failed' : 'success')));
    const records = jobIds.map((id, i) => asRecord(event(id, 'burst', i % 4 === 0 ? 'failed' : 'succeeded', i % 4 === 0 ? { error: 'handler exploded' } : {})));
    records.splice(20, 0, asRecord(event('00000000-0000-4000-8000-000000000000', 'burst', 'succeeded')));
    const written = await metric('conveyor_notifications_written_total');
    await produce(...records);
    const { rows } = await waitForRows(40);
    expect(rows.filter((r) => r.kind === 'failed')).toHaveLength(10);
    expect(rows.find((r) => r.kind === 'failed')!.message).toMatch(/failed: handler exploded$/);
    expect(await metric('conveyor_notifications_written_total')).toBe(written + 40);
    const end = await endOffset();
    await waitUntil(async () => (await committedOffset()) === end, 10_000, 'the offset committed past the burst');

    async function waitForRows(count: number) {
      let found = { rows: [] as Array<{ kind: string; message: string }> };
      await waitUntil(async () => {
        found = await pool.query("SELECT kind, message FROM notifications WHERE tenant = 'burst'");
        return found.rows.length >= count;
      }, 20_000, `${count} notifications`);
      return found;
    }
  });

  it('a webhook reaches the callback URL with a signature that verifies and the documented body', async () => {
    const receiver = await startReceiver((_, res) => res.writeHead(204).end());
    receivers.push(receiver);
    const jobId = await finishedJob('acme', receiver.url, 'failed');
    const failed = event(jobId, 'acme', 'failed', { error: 'handler exploded' });
    await produce(asRecord(failed));
    await waitUntil(() => receiver.received.length === 1, 20_000, 'the webhook');
    const [request] = receiver.received;
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.headers['conveyor-event-id']).toBe(failed.eventId);
    const signature = request!.headers['conveyor-signature'] as string;
    expect(verifyWebhook(SECRET, signature, request!.body, 300)).toMatchObject({ ok: true });
    expect(verifyWebhook(SECRET, signature, request!.body.replace('failed', 'success'), 300).ok).toBe(false);
    const body = JSON.parse(request!.body);
    expect(body).toEqual({ jobId, type: 'noop', status: 'failed', finishedAt: expect.any(String), error: 'handler exploded' });
    expect(Number.isNaN(Date.parse(body.finishedAt))).toBe(false);
    expect(await notifications(jobId)).toHaveLength(1);
  });

  it('a receiver failing twice is retried with backoff and finally gets the webhook', async () => {
    const receiver = await startReceiver((n, res) => res.writeHead(n <= 2 ? 503 : 200).end());
    receivers.push(receiver);
    const retriedBefore = await metric('conveyor_webhooks_retried_total');
    const deliveredBefore = await metric('conveyor_webhooks_delivered_total');
    const jobId = await finishedJob('acme', receiver.url);
    const done = event(jobId, 'acme', 'succeeded');
    await produce(asRecord(done));
    // The counters are shared with the other tests' deliveries, and the receiver answers before the
    // attempt is recorded: wait for this delivery's own row to say delivered.
    const deliveryStatus = async () =>
      (await pool.query<{ status: string }>('SELECT status FROM webhook_deliveries WHERE job_id = $1', [jobId])).rows[0]?.status;
    await waitUntil(async () => receiver.received.length >= 3 && (await deliveryStatus()) === 'delivered', 20_000, 'the delivery');
    expect(await metric('conveyor_webhooks_delivered_total')).toBeGreaterThanOrEqual(deliveredBefore + 1);
    expect(receiver.received).toHaveLength(3);
    expect(new Set(receiver.received.map((r) => r.headers['conveyor-event-id']))).toEqual(new Set([done.eventId]));
    for (const r of receiver.received) expect(verifyWebhook(SECRET, r.headers['conveyor-signature'] as string, r.body, 300).ok).toBe(true);
    expect(JSON.parse(receiver.received[2]!.body)).toMatchObject({
      jobId,
      status: 'success',
      resultUrl: `https://conveyor.example.com/jobs/${jobId}/result`,
    });
    // Shared with the other tests' deliveries: at least this one's two retries (its rows below are exact).
    expect(await metric('conveyor_webhooks_retried_total')).toBeGreaterThanOrEqual(retriedBefore + 2);
    // Every attempt is on record, for GET /jobs/{id}/deliveries.
    const { rows } = await pool.query(
      `SELECT a.attempt, a.status_code AS "statusCode", a.latency_ms >= 0 AS timed, a.next_attempt_at IS NOT NULL AS "retryScheduled", d.status
         FROM webhook_delivery_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE d.job_id = $1 ORDER BY a.attempt`,
      [jobId],
    );
    expect(rows).toEqual([
      { attempt: 1, statusCode: 503, timed: true, retryScheduled: true, status: 'delivered' },
      { attempt: 2, statusCode: 503, timed: true, retryScheduled: true, status: 'delivered' },
      { attempt: 3, statusCode: 200, timed: true, retryScheduled: false, status: 'delivered' },
    ]);
  });

  it('a receiver refusing the payload with a 4xx is not retried', async () => {
    const receiver = await startReceiver((_, res) => res.writeHead(400).end());
    receivers.push(receiver);
    const rejectedBefore = await metric('conveyor_webhooks_failed_total');
    const jobId = await finishedJob('acme', receiver.url);
    await produce(asRecord(event(jobId, 'acme', 'succeeded')));
    await waitUntil(async () => (await metric('conveyor_webhooks_failed_total')) === rejectedBefore + 1, 20_000, 'the rejection');
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.received).toHaveLength(1);
  });

  it('malformed records are counted and skipped; later records are still handled', async () => {
    const malformedBefore = await metric('conveyor_job_events_malformed_total');
    const jobId = await finishedJob('acme');
    await produce(
      { key: 'x', value: '{not json' },
      { key: 'y', value: JSON.stringify({ ...event(jobId, 'acme', 'succeeded'), jobId: 'not-a-uuid' }) },
      asRecord(event(jobId, 'acme', 'succeeded')),
    );
    await waitUntil(async () => (await notifications(jobId)).length === 1, 20_000, 'the notification after the malformed records');
    expect(await metric('conveyor_job_events_malformed_total')).toBe(malformedBefore + 2);
  });

  it('a slow receiver neither stalls later notifications nor holds the offset: its delivery is stored, not in memory', async () => {
    let release: (() => void) | undefined;
    const receiver = await startReceiver((_, res) => {
      release = () => res.writeHead(200).end();
    });
    receivers.push(receiver);
    const slowJob = await finishedJob('acme', receiver.url);
    const nextJob = await finishedJob('acme');
    const slowOffset = await endOffset();
    await produce(asRecord(event(slowJob, 'acme', 'succeeded')), asRecord(event(nextJob, 'acme', 'succeeded')));
    await waitUntil(() => receiver.received.length === 1, 20_000, 'the slow webhook request');
    await waitUntil(async () => (await notifications(nextJob)).length === 1, 20_000, 'the later notification');
    await waitUntil(async () => (await committedOffset()) === slowOffset + 2, 20_000, 'the offset to move past both events');
    const pending = await pool.query('SELECT status FROM webhook_deliveries WHERE job_id = $1', [slowJob]);
    expect(pending.rows).toEqual([{ status: 'pending' }]);
    release!();
    await waitUntil(async () => (await pool.query("SELECT 1 FROM webhook_deliveries WHERE job_id = $1 AND status = 'delivered'", [slowJob])).rowCount === 1, 20_000, 'the delivery recorded');
  });
});

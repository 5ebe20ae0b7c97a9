import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafka, createLogger, createPool, fromKafkaHeaders, Kafka, parseEnvelope, Registry, type Consumer, type KafkaMessage, type Pool } from '@conveyor/platform';
import { createJob, createOutboxSignal, migrateJobsSchema, OUTBOX_CHANNEL, startOutboxRelay, topology, type OutboxRelay, type OutboxRelayOptions, type Topology } from '@conveyor/jobs';
import { createTestDatabase, rowLockedElsewhere, type TestDatabase } from '../../../test/support/database.js';
import { infra, uniqueName } from '../../../test/support/infra.js';
import { freePort } from '../../../test/support/service-process.js';
import { waitUntil } from '../../../test/support/wait.js';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'outbox-crash-child.mjs');
const logger = createLogger({ service: 'outbox-test', level: 'warn' });

interface Received {
  topic: string;
  key: string;
  value: string;
  message: KafkaMessage;
  at: number;
}

describe('outbox relay against real Postgres and Kafka', () => {
  let db: TestDatabase;
  let pool: Pool;
  let kafka: Kafka;
  let topo: Topology;
  let consumer: Consumer;
  const received: Received[] = [];
  const relays: OutboxRelay[] = [];

  async function relay(options: Partial<Pick<OutboxRelayOptions, 'pollIntervalMs' | 'batchSize' | 'registry' | 'kafka' | 'topology' | 'afterProduce'>> = {}) {
    const started = await startOutboxRelay({ pool, kafka, topology: topo, logger, registry: options.registry ?? new Registry(), ...options });
    relays.push(started);
    return started;
  }

  const forTenant = (tenant: string) =>
    received.filter((r) => r.topic === topo.topics.requested && parseEnvelope(r.value).ok && JSON.parse(r.value).tenant === tenant);

  async function createJobs(tenant: string, n: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i += 100) {
      const chunk = await Promise.all(
        Array.from({ length: Math.min(100, n - i) }, () => createJob(pool, { tenant, owner: 'u', type: 'noop', payload: {} })),
      );
      ids.push(...chunk.map((o) => o.jobId));
    }
    return ids;
  }

  async function unpublished(tenant: string): Promise<number> {
    const { rows } = await pool.query('SELECT count(*)::int AS n FROM jobs WHERE tenant = $1 AND published_at IS NULL', [tenant]);
    return rows[0].n;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 20 });
    await migrateJobsSchema(pool);
    topo = topology(uniqueName('outbox').replaceAll('_', '-'));
    kafka = createKafka({ brokers: infra.kafkaBrokers, clientId: 'outbox-test', logger });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [topo.topics.requested, topo.topics.events].map((topic) => ({ topic, numPartitions: 3, replicationFactor: 1 })),
    });
    await admin.disconnect();
    consumer = kafka.consumer({ groupId: uniqueName('outbox-test'), maxWaitTimeInMs: 50 });
    await consumer.connect();
    await consumer.subscribe({ topics: [topo.topics.requested, topo.topics.events], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic, message }) => {
        received.push({ topic, key: message.key!.toString(), value: message.value!.toString(), message, at: Date.now() });
      },
    });
  });

  afterAll(async () => {
    await Promise.all(relays.map((r) => r.stop()));
    await consumer?.disconnect();
    await pool?.end();
    await db?.drop();
  });

  it('publishes a new job and its created event within moments of the outbox signal, with trace headers', async () => {
    // A poll far in the future: only the signal's NOTIFY can wake this relay.
    const r = await relay({ pollIntervalMs: 600_000 });
    await new Promise((resolve) => setTimeout(resolve, 500)); // the listener's LISTEN is in place
    // Another process's signal, as a worker's or the scheduler's: it reaches the relay through Postgres.
    const outbox = createOutboxSignal({ pool, logger });
    const stored = outbox.track(pool);
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const latencies: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = Date.now();
      const { jobId } = await createJob(stored, { tenant: 'latency', owner: 'u-1', type: 'noop', payload: { i }, traceparent, requestId: `req-${i}` });
      await waitUntil(() => received.some((m) => m.key === jobId && m.topic === topo.topics.requested), 5_000, `job ${jobId}`);
      latencies.push(received.find((m) => m.key === jobId)!.at - started);
      const job = received.find((m) => m.key === jobId && m.topic === topo.topics.requested)!;
      const parsed = parseEnvelope(job.value);
      expect(parsed).toMatchObject({ ok: true, envelope: { v: 1, jobId, type: 'noop', tenant: 'latency', payload: { i } } });
      expect(fromKafkaHeaders(job.message.headers)).toMatchObject({ traceparent, requestId: `req-${i}`, runAt: undefined });

      await waitUntil(() => received.some((m) => m.key === jobId && m.topic === topo.topics.events), 5_000, `event of ${jobId}`);
      const event = received.find((m) => m.key === jobId && m.topic === topo.topics.events)!;
      expect(JSON.parse(event.value)).toMatchObject({ jobId, tenant: 'latency', owner: 'u-1', jobType: 'noop', type: 'created' });
      expect(typeof JSON.parse(event.value).eventId).toBe('number');
      expect(fromKafkaHeaders(event.message.headers).traceparent).toBe(traceparent);
    }
    // A delayed job (here already due, so stored queued) carries its run time beside the trace headers.
    const runAt = new Date(Date.now() - 1_000);
    const delayed = await createJob(stored, { tenant: 'latency', owner: 'u-1', type: 'noop', payload: {}, runAt, traceparent, requestId: 'req-delayed' });
    await waitUntil(() => received.some((m) => m.key === delayed.jobId && m.topic === topo.topics.requested), 5_000, 'the delayed job');
    const delayedMessage = received.find((m) => m.key === delayed.jobId && m.topic === topo.topics.requested)!;
    expect(fromKafkaHeaders(delayedMessage.message.headers)).toMatchObject({ traceparent, requestId: 'req-delayed', runAt: runAt.toISOString() });
    console.log(`outbox signal -> Kafka latency ms: ${latencies.join(', ')}`);
    // Generous for a loaded CI machine; the poll is ten minutes away, so only the signal fits.
    expect(Math.max(...latencies)).toBeLessThan(3_000);
    outbox.stop();
    await r.stop();
  });

  it('announces after the commit, not inside the transaction: no NOTIFY trigger left, and a burst of statements is one or two NOTIFYs', async () => {
    const { rows } = await pool.query(
      `SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = 'job_events'::regclass AND NOT tgisinternal`,
    );
    expect(rows[0].n, 'job_events keeps no trigger that would NOTIFY inside the writing transaction').toBe(0);

    const listener = await pool.connect();
    const heard: string[] = [];
    listener.on('notification', (m) => heard.push(`${m.channel}:${m.payload}`));
    await listener.query(`LISTEN ${OUTBOX_CHANNEL}`);
    const outbox = createOutboxSignal({ pool, logger, intervalMs: 1_000 });
    const stored = outbox.track(pool);
    await Promise.all(Array.from({ length: 20 }, (_, i) => createJob(stored, { tenant: 'signal', owner: 'u', type: 'noop', payload: { i } })));
    await waitUntil(() => heard.length >= 2, 5_000, 'the leading and the trailing NOTIFY');
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Twenty commits within the interval: one NOTIFY at once, one for the rest at its end.
    expect(heard).toEqual([`${OUTBOX_CHANNEL}:job_events`, `${OUTBOX_CHANNEL}:job_events`]);
    outbox.stop();
    await listener.query(`UNLISTEN ${OUTBOX_CHANNEL}`);
    listener.release();
  });

  it('publishes 2,000 jobs exactly once', async () => {
    const registry = new Registry();
    await relay({ batchSize: 200, registry });
    const started = Date.now();
    const ids = await createJobs('bulk', 2_000);
    await waitUntil(async () => (await unpublished('bulk')) === 0, 30_000, 'all published');
    await waitUntil(() => forTenant('bulk').length >= 2_000, 30_000, 'all consumed');
    console.log(`2,000 jobs created and published in ${Date.now() - started} ms`);
    await new Promise((r) => setTimeout(r, 1_000)); // room for any duplicate to show up
    const keys = forTenant('bulk').map((m) => m.key);
    expect(keys).toHaveLength(2_000);
    expect(new Set(keys)).toEqual(new Set(ids));
    const metrics = await registry.getSingleMetricAsString('conveyor_outbox_published_total');
    expect(metrics).toMatch(new RegExp(`topic="${topo.topics.requested}"} (\\d+)`));
  });

  it('never publishes the same row twice with two relays draining at once', async () => {
    await Promise.all(relays.map((r) => r.stop()));
    const [a, b] = [new Registry(), new Registry()];
    await relay({ batchSize: 50, pollIntervalMs: 50, registry: a });
    await relay({ batchSize: 50, pollIntervalMs: 50, registry: b });
    const ids = await createJobs('pair', 1_000);
    await waitUntil(async () => (await unpublished('pair')) === 0, 30_000, 'all published');
    await waitUntil(() => forTenant('pair').length >= 1_000, 30_000, 'all consumed');
    await new Promise((r) => setTimeout(r, 1_000));
    const keys = forTenant('pair').map((m) => m.key);
    expect(keys).toHaveLength(1_000);
    expect(new Set(keys)).toEqual(new Set(ids));
    const share = async (registry: Registry) =>
      (await registry.getSingleMetric('conveyor_outbox_published_total')!.get()).values.find(
        (v) => v.labels.topic === topo.topics.requested,
      )?.value ?? 0;
    console.log(`relay shares: ${await share(a)} + ${await share(b)}`);
    expect((await share(a)) + (await share(b))).toBe(1_000);
  });

  it('loses nothing when the relay is killed -9 between the Kafka ack and the commit', async () => {
    await Promise.all(relays.map((r) => r.stop()));
    const ids = await createJobs('crash', 300);
    const child = spawn(process.execPath, [CHILD], {
      env: {
        PATH: process.env.PATH,
        DATABASE_URL: db.url,
        KAFKA_BROKERS: infra.kafkaBrokers.join(','),
        CONVEYOR_NAMESPACE: topo.snsTopic.replace(/-jobs$/, ''),
        BATCH_SIZE: '100',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
    await waitUntil(() => output.includes('"produced"'), 20_000, `the child to produce (output: ${output})`);
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    // Kafka has the first batch, the database still says none of it is published.
    await waitUntil(() => forTenant('crash').length >= 100, 10_000, 'the first batch on the topic');
    expect(await unpublished('crash')).toBe(300);

    await relay({ batchSize: 100 });
    await waitUntil(async () => (await unpublished('crash')) === 0, 30_000, 'all published after restart');
    await waitUntil(() => new Set(forTenant('crash').map((m) => m.key)).size === 300, 30_000, 'every job consumed');
    const keys = forTenant('crash').map((m) => m.key);
    expect(new Set(keys)).toEqual(new Set(ids));
    // The batch produced before the kill went out again: duplicates, and nothing lost.
    expect(keys.length).toBeGreaterThanOrEqual(400);
  });

  const lockedElsewhere = (jobId: string) => rowLockedElsewhere(pool, 'jobs', jobId);

  const relayErrors = async (registry: Registry) => (await registry.getSingleMetric('conveyor_outbox_errors_total')!.get()).values[0]?.value ?? 0;

  it('lets a retried submission through while the relay holds its job between the Kafka ack and the mark', async () => {
    await Promise.all(relays.map((r) => r.stop()));
    const job = { tenant: 'held', owner: 'u', type: 'noop', payload: {}, idempotencyKey: 'retried-once' };
    const first = await createJob(pool, job);
    let release!: () => void;
    const acked = new Promise<void>((resolve) => (release = resolve));
    await relay({ pollIntervalMs: 100, afterProduce: () => acked });
    await waitUntil(() => lockedElsewhere(first.jobId), 10_000, 'the relay to claim the job');

    const retried = await Promise.race([createJob(pool, job), new Promise((resolve) => setTimeout(resolve, 5_000, 'still waiting'))]);
    release();
    expect(retried).toMatchObject({ kind: 'replayed', jobId: first.jobId });
    await waitUntil(async () => (await unpublished('held')) === 0, 10_000, 'the batch to be marked published');
  });

  it('gives claimed rows back within seconds while Kafka keeps failing the send', async () => {
    await Promise.all(relays.map((r) => r.stop()));
    const { jobId } = await createJob(pool, { tenant: 'failing-send', owner: 'u', type: 'noop', payload: {} });
    // Topics that do not exist: Kafka answers every send with an error the producer retries.
    const registry = new Registry();
    await relay({ topology: topology(uniqueName('outbox-missing').replaceAll('_', '-')), pollIntervalMs: 100, registry });
    await waitUntil(() => lockedElsewhere(jobId), 10_000, 'the relay to claim the job');
    await waitUntil(async () => (await relayErrors(registry)) >= 1, 20_000, 'the send to give up');
    await waitUntil(async () => !(await lockedElsewhere(jobId)), 5_000, 'the row to be released');
    expect(await unpublished('failing-send')).toBe(1);
  });

  it('publishes once Kafka can be reached when it could not be at first', async () => {
    await Promise.all(relays.map((r) => r.stop()));
    // A broker address with nothing behind it yet; later a forwarder to the real broker opens there.
    const port = await freePort();
    const unreachable = new Kafka({ clientId: 'outbox-late-kafka', brokers: [`127.0.0.1:${port}`], connectionTimeout: 500, retry: { retries: 1, initialRetryTime: 50, maxRetryTime: 100 }, logCreator: () => () => undefined });
    const registry = new Registry();
    const { jobId } = await createJob(pool, { tenant: 'late-kafka', owner: 'u', type: 'noop', payload: {} });
    await relay({ kafka: unreachable, pollIntervalMs: 100, registry });
    await waitUntil(async () => (await relayErrors(registry)) >= 1, 10_000, 'a failed connection');

    const [host, brokerPort] = infra.kafkaBrokers[0]!.split(':');
    const forwarder = net.createServer((client) => {
      const upstream = net.connect({ host: host!, port: Number(brokerPort) });
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    await new Promise<void>((resolve) => forwarder.listen(port, '127.0.0.1', resolve));
    try {
      await waitUntil(() => received.some((m) => m.key === jobId && m.topic === topo.topics.requested), 30_000, 'the job on Kafka');
      await waitUntil(async () => (await unpublished('late-kafka')) === 0, 10_000, 'the job to be marked published');
    } finally {
      await Promise.all(relays.map((r) => r.stop()));
      await new Promise((resolve) => forwarder.close(resolve));
    }
  });
});

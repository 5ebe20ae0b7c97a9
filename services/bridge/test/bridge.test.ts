import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import { createKafka, createLogger, createS3Client, createSnsClient, createSqsClient, type Consumer, type Producer } from '@conveyor/platform';
import { provision, topology, type Provisioned } from '@conveyor/jobs';
import { awsOptions, infra, uniqueName } from '../../../test/support/infra.js';
import { freePort, startService, waitForHttp, type RunningService } from '../../../test/support/service-process.js';
import { waitUntil } from '../../../test/support/wait.js';

const logger = createLogger({ service: 'bridge-test', level: 'warn' });
const namespace = uniqueName('bridge').replaceAll('_', '-');
const topo = topology(namespace);
const kafka = createKafka({ brokers: infra.kafkaBrokers, clientId: 'bridge-test', logger });
const [sns, sqs, s3] = [createSnsClient(awsOptions), createSqsClient(awsOptions), createS3Client(awsOptions)];
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

/**
 * A TCP proxy in front of the SNS emulator that the test can stop (SNS unreachable) or make
 * swallow responses (SNS accepted, the bridge never hears back).
 */
class SnsProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  holdResponses = false;
  constructor(readonly port: number) {}

  /** Idempotent: a test that failed while SNS was unreachable leaves it reachable for the next. */
  async start(): Promise<void> {
    if (this.server) return;
    const upstream = new URL(infra.awsEndpoint);
    this.server = net.createServer((client) => {
      const server = net.connect(Number(upstream.port), upstream.hostname);
      for (const s of [client, server]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          server.destroy();
        });
      }
      client.on('data', (d) => server.write(d));
      server.on('data', (d) => {
        if (!this.holdResponses) client.write(d);
      });
      client.on('end', () => server.end());
      server.on('end', () => client.end());
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => (this.server ? this.server.close(resolve) : resolve(undefined)));
    this.server = undefined;
  }
}

/** Without `pool`, the record is one written before the registry: the bridge routes it by topology.ts. */
function envelope(type: string, pool?: string) {
  const jobId = randomUUID();
  return {
    jobId,
    value: JSON.stringify({ v: 1, jobId, type, tenant: 'demo', payload: { n: 1 }, createdAt: new Date().toISOString(), maxAttempts: 3, timeoutSeconds: 60, pool }),
  };
}

async function metric(service: RunningService, name: string): Promise<number> {
  const text = await (await fetch(`${service.url}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(name) && (line[name.length] === ' ' || line[name.length] === '{'))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

describe('bridge service: Kafka jobs.requested -> SNS -> SQS pool queues', () => {
  let provisioned: Provisioned;
  let proxy: SnsProxy;
  let producer: Producer;
  let eventsConsumer: Consumer;
  const events: Array<{ key: string | null; value: Record<string, unknown> }> = [];
  const received = new Map<string, Message[]>(); // by queue URL, everything ever received
  const services: RunningService[] = [];

  /** Records of jobs.requested the bridge's group has not committed past, over all partitions. */
  async function uncommittedRecords(): Promise<number> {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const ends = await admin.fetchTopicOffsets(topo.topics.requested);
      const [committed] = await admin.fetchOffsets({ groupId: topo.consumerGroups.bridge, topics: [topo.topics.requested] });
      return ends.reduce((sum, end) => {
        const at = Number(committed!.partitions.find((p) => p.partition === end.partition)?.offset ?? -1);
        return sum + Number(end.offset) - Math.max(0, at);
      }, 0);
    } finally {
      await admin.disconnect();
    }
  }

  async function startBridge(endpoint = `http://127.0.0.1:${proxy.port}`, env: Record<string, string> = {}): Promise<RunningService> {
    const bridge = await startService('bridge', {
      KAFKA_BROKERS: infra.kafkaBrokers.join(','),
      AWS_ENDPOINT_URL: endpoint,
      AWS_REGION: infra.awsRegion,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      CONVEYOR_NAMESPACE: namespace,
      BRIDGE_SESSION_TIMEOUT_MS: '6000',
      BREAKER_RESET_MS: '2000',
      BREAKER_VOLUME_THRESHOLD: '2',
      SNS_RETRY_ATTEMPTS: '2',
      SNS_RETRY_BASE_MS: '50',
      BRIDGE_FAILURE_PAUSE_MS: '500',
      LAG_INTERVAL_MS: '1000',
      ...env,
    });
    services.push(bridge);
    return bridge;
  }

  async function produce(records: Array<{ key: string | null; value: string }>, headers = true): Promise<void> {
    await producer.send({
      topic: topo.topics.requested,
      acks: -1,
      messages: records.map((r) => ({ ...r, headers: headers ? { traceparent: TRACEPARENT, request_id: `req-${r.key}` } : {} })),
    });
  }

  /** Receives (and deletes) from a queue until every wanted job id has arrived at least once. */
  /** Receives until every job arrived at least once and, when asked, at least `minMessages` of theirs did. */
  async function collect(queueUrl: string, jobIds: string[], timeoutMs = 30_000, minMessages = 0): Promise<Message[]> {
    const all = received.get(queueUrl) ?? [];
    received.set(queueUrl, all);
    const seen = () => new Set(all.map((m) => JSON.parse(m.Body!).jobId));
    const ofJobs = () => all.filter((m) => jobIds.includes(JSON.parse(m.Body!).jobId));
    const deadline = Date.now() + timeoutMs;
    while (!jobIds.every((id) => seen().has(id)) || ofJobs().length < minMessages) {
      if (Date.now() > deadline) {
        throw new Error(`only ${jobIds.filter((id) => seen().has(id)).length}/${jobIds.length} arrived (${ofJobs().length} messages)`);
      }
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 1, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'] }),
      );
      all.push(...Messages);
      if (Messages.length > 0) {
        await sqs.send(
          new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }),
        );
      }
    }
    return ofJobs();
  }

  beforeAll(async () => {
    provisioned = await provision({ kafka, sns, sqs, s3, topology: topo, bucket: namespace, partitions: 3 });
    proxy = new SnsProxy(await freePort());
    await proxy.start();
    producer = kafka.producer();
    await producer.connect();
    eventsConsumer = kafka.consumer({ groupId: uniqueName('bridge-test-events'), maxWaitTimeInMs: 100 });
    await eventsConsumer.connect();
    await eventsConsumer.subscribe({ topic: topo.topics.events, fromBeginning: true });
    await eventsConsumer.run({
      eachMessage: async ({ message }) => {
        events.push({ key: message.key?.toString() ?? null, value: JSON.parse(message.value!.toString()) });
      },
    });
  });

  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop('SIGKILL')));
    await proxy?.stop();
    await producer?.disconnect();
    await eventsConsumer?.disconnect();
    for (const client of [sns, sqs, s3]) client.destroy();
  });

  it('delivers each record to its pool queue with the raw body and type, traceparent, request_id attributes', async () => {
    const bridge = await startBridge();
    await waitForHttp(`${bridge.url}/readyz`, 200);
    // 5 of a type no code knows, registered in the default pool: routed by their pool alone.
    const noops = [...Array.from({ length: 25 }, () => envelope('noop')), ...Array.from({ length: 5 }, () => envelope('billing.invoice-send', 'default'))];
    const reports = Array.from({ length: 10 }, () => envelope('report.generate'));
    await produce([...noops, ...reports].map((e) => ({ key: e.jobId, value: e.value })));
    const [defaultQueue, reportsQueue] = provisioned.queues;

    const onReports = await collect(reportsQueue!.queueUrl, reports.map((r) => r.jobId));
    const onDefault = await collect(defaultQueue!.queueUrl, noops.map((r) => r.jobId));
    expect(onReports).toHaveLength(10);
    expect(onDefault).toHaveLength(30);
    // Filter policy: nothing crossed over.
    expect(received.get(reportsQueue!.queueUrl)!.every((m) => JSON.parse(m.Body!).type === 'report.generate')).toBe(true);
    const sample = onReports[0]!;
    expect(sample.Body).toBe(reports.find((r) => r.jobId === JSON.parse(sample.Body!).jobId)!.value);
    expect(sample.MessageAttributes?.type?.StringValue).toBe('report.generate');
    expect(sample.MessageAttributes?.pool?.StringValue).toBe('reports');
    // The bridge continues the trace with its own publish span: same trace id, a new span id.
    expect(sample.MessageAttributes?.traceparent?.StringValue).toMatch(new RegExp(`^00-${TRACEPARENT.split('-')[1]}-[0-9a-f]{16}-01$`));
    expect(sample.MessageAttributes?.request_id?.StringValue).toBe(`req-${JSON.parse(sample.Body!).jobId}`);
    expect(await metric(bridge, 'conveyor_bridge_records_published_total')).toBeGreaterThanOrEqual(40);
    // Offsets are committed on the bridge's interval (500 ms by default), not only at stop.
    await waitUntil(async () => (await uncommittedRecords()) === 0, 10_000, 'the offsets to be committed', 100);
  });

  it('skips a malformed record without blocking its partition and records it as rejected', async () => {
    const bridge = services[0]!;
    const badJobId = randomUUID();
    const before = envelope('noop');
    const after = Array.from({ length: 5 }, () => envelope('noop'));
    // One key, one partition: the valid records after the bad ones must still flow.
    await produce(
      [
        { key: 'same', value: before.value },
        { key: 'same', value: 'this is not json' },
        { key: 'same', value: JSON.stringify({ v: 2, jobId: badJobId }) },
        ...after.map((e) => ({ key: 'same', value: e.value })),
      ],
      false,
    );
    await collect(provisioned.queues[0]!.queueUrl, [before.jobId, ...after.map((e) => e.jobId)]);
    await waitUntil(() => events.filter((e) => e.value.type === 'rejected').length >= 2, 10_000, 'rejected events', 100);
    const rejected = events.filter((e) => e.value.type === 'rejected');
    expect(rejected.find((e) => e.key === badJobId)?.value).toMatchObject({ jobId: badJobId, data: { source: { topic: topo.topics.requested } } });
    expect(rejected.find((e) => e.value.jobId === null)?.value.data).toMatchObject({ reason: 'message is not JSON' });
    expect(await metric(bridge, 'conveyor_bridge_records_rejected_total')).toBe(2);
  });

  it('re-publishes after a kill -9 between SNS accepting and the offset commit: duplicates, nothing lost', async () => {
    const bridge = services[0]!;
    const queue = provisioned.queues[0]!.queueUrl;
    const jobs = Array.from({ length: 40 }, () => envelope('noop'));
    const visible = async () =>
      Number(
        (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queue, AttributeNames: ['ApproximateNumberOfMessages'] }))).Attributes
          ?.ApproximateNumberOfMessages ?? 0,
      );
    proxy.holdResponses = true; // SNS accepts, the bridge never learns it did
    await produce(jobs.map((e) => ({ key: e.jobId, value: e.value })));
    // A wait, not a timing claim: a busy machine (the fuzz suite beside it) once needed more than 15 s.
    await waitUntil(async () => (await visible()) >= 10, 40_000, 'SNS to accept some of the records', 100);
    expect(await bridge.stop('SIGKILL')).toBe('SIGKILL');
    proxy.holdResponses = false;

    // The restarted bridge gets the partitions once the dead member's session ends.
    await startBridge();
    // Every record SNS accepted before the kill was never committed: it is published again. Those
    // copies may arrive after the last distinct job, so wait for more messages than jobs.
    const delivered = await collect(queue, jobs.map((e) => e.jobId), 45_000, jobs.length + 1);
    const ids = delivered.map((m) => JSON.parse(m.Body!).jobId);
    expect(new Set(ids)).toEqual(new Set(jobs.map((e) => e.jobId)));
    console.log(`after kill -9: ${ids.length} deliveries for ${jobs.length} jobs`);
    expect(ids.length).toBeGreaterThan(jobs.length);
  }, 120_000);

  it('opens the breaker and pauses consumption while SNS is unreachable, then delivers everything', async () => {
    const bridge = services.at(-1)!;
    await proxy.stop();
    try {
      const jobs = Array.from({ length: 20 }, () => envelope('noop'));
      await produce(jobs.map((e) => ({ key: e.jobId, value: e.value })));
      // The breaker opens, then the consumer pauses: two steps, read once both are done (CI once read between them).
      await waitUntil(
        async () => (await metric(bridge, 'conveyor_bridge_breaker_state')) === 2 && (await metric(bridge, 'conveyor_bridge_consumer_paused')) === 1,
        30_000,
        'the breaker to open and consumption to pause',
        100,
      );
      const calls = () => metric(bridge, 'conveyor_bridge_sns_publish_duration_seconds_count');
      const start = await calls();
      await new Promise((r) => setTimeout(r, 5_000));
      const attempts = (await calls()) - start;
      console.log(`SNS publish attempts in 5 s with the breaker open: ${attempts}`);
      // Half-open trials every 2 s with 2 attempts each: a handful, not a tight loop.
      expect(attempts).toBeLessThanOrEqual(12);

      await proxy.start();
      await collect(provisioned.queues[0]!.queueUrl, jobs.map((e) => e.jobId), 30_000);
      await waitUntil(async () => (await metric(bridge, 'conveyor_bridge_breaker_state')) === 0, 10_000, 'the breaker to close', 100);
      expect(await metric(bridge, 'conveyor_bridge_consumer_paused')).toBe(0);
    } finally {
      await proxy.start();
    }
  }, 90_000);

  it('reports lag and drains on SIGTERM', async () => {
    const bridge = services.at(-1)!;
    await waitUntil(async () => (await fetch(`${bridge.url}/metrics`).then((r) => r.text())).includes('conveyor_bridge_consumer_lag{'), 10_000, 'lag', 100);
    await bridge.stopCleanly();
    expect(bridge.output()).toMatch(/"msg":"stopped cleanly"/);
  });

  it('commits what SNS accepted when it stops, though its commit interval has not come round', async () => {
    const bridge = await startBridge(undefined, { BRIDGE_COMMIT_INTERVAL_MS: '60000' });
    await waitForHttp(`${bridge.url}/readyz`, 200);
    const jobs = Array.from({ length: 12 }, () => envelope('noop'));
    await produce(jobs.map((e) => ({ key: e.jobId, value: e.value })));
    await collect(provisioned.queues[0]!.queueUrl, jobs.map((e) => e.jobId));
    expect(await uncommittedRecords()).toBe(jobs.length);
    await bridge.stopCleanly();
    expect(await uncommittedRecords()).toBe(0);
  }, 60_000);
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConveyorClient } from '../e2e/client.js';
import { startPlatform, type Platform } from '../support/platform.js';
import { ancestors, formatTree, startOtlpReceiver, type ReceivedSpan } from './otlp-receiver.js';

const SERVER = 2;
const PRODUCER = 4;
const CONSUMER = 5;

/** Every service exports OTLP to a receiver in this process; one job's spans must form one tree. */
describe('one trace per job across every hop', () => {
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let platform: Platform;
  let client: ConveyorClient;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    platform = await startPlatform({
      env: {
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_BSP_SCHEDULE_DELAY: '200',
      },
    });
    client = new ConveyorClient(platform.gatewayUrl, await platform.login());
  }, 240_000);
  afterAll(async () => {
    await platform?.stop();
    await receiver?.close();
  });

  async function traceOf(jobId: string): Promise<{ traceId: string; spans: ReceivedSpan[]; worker: ReceivedSpan }> {
    const view = await client.job(jobId);
    const traceId = String(view.body.traceId);
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    const deadline = Date.now() + 20_000;
    for (;;) {
      const spans = receiver.spans.filter((s) => s.traceId === traceId);
      const worker = spans.find((s) => s.service === 'worker' && s.kind === CONSUMER && s.attributes['conveyor.job.id'] === jobId);
      const dbWrites = worker && spans.filter((s) => (s.attributes['db.system'] ?? s.attributes['db.system.name']) === 'postgresql' && ancestors(spans, s).includes(worker));
      // Each service exports on its own schedule: wait until the worker's span links up to the gateway.
      const linked = worker && ancestors(spans, worker).some((s) => s.service === 'gateway' && s.kind === SERVER);
      if (worker && linked && dbWrites && dbWrites.length > 0) return { traceId, spans, worker };
      if (Date.now() > deadline) {
        throw new Error(`trace ${traceId} of job ${jobId} is incomplete:\n${formatTree(spans)}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Asserts the worker's span descends, in this order, from the bridge, the relay, the api and the gateway. */
  function expectChain(spans: ReceivedSpan[], worker: ReceivedSpan) {
    const ns = platform.namespace;
    const chain = ancestors(spans, worker);
    const at = (predicate: (s: ReceivedSpan) => boolean, what: string) => {
      const index = chain.findIndex(predicate);
      expect(index, `${what} is an ancestor of the worker's span`).toBeGreaterThanOrEqual(0);
      return { index, span: chain[index]! };
    };
    const snsPublish = at((s) => s.service === 'bridge' && s.kind === PRODUCER && s.name === `publish ${ns}-jobs`, 'bridge SNS publish');
    const kafkaProcess = at((s) => s.service === 'bridge' && s.kind === CONSUMER && s.name === `process ${ns}-jobs.requested`, 'bridge Kafka process');
    const relayPublish = at((s) => s.kind === PRODUCER && s.name === `publish ${ns}-jobs.requested`, 'outbox relay publish');
    const api = at((s) => s.service === 'api' && s.kind === SERVER, 'api server span');
    const gateway = at((s) => s.service === 'gateway' && s.kind === SERVER, 'gateway server span');
    expect(snsPublish.index).toBeLessThan(kafkaProcess.index);
    expect(kafkaProcess.index).toBeLessThan(relayPublish.index);
    expect(relayPublish.index).toBeLessThan(api.index);
    expect(api.index).toBeLessThan(gateway.index);
    expect(relayPublish.span.attributes).toMatchObject({
      'messaging.system': 'kafka',
      'messaging.destination.name': `${ns}-jobs.requested`,
      'messaging.operation.type': 'send',
      'messaging.message.id': worker.attributes['conveyor.job.id'],
    });
    expect(kafkaProcess.span.attributes).toMatchObject({ 'messaging.system': 'kafka', 'messaging.operation.type': 'process' });
    expect(api.span.attributes['http.route'], 'the api server span carries its route template').toMatch(/^\/(jobs|generate-report|points\/reservations)$/);
    expect(api.span.name).toBe(`POST ${api.span.attributes['http.route']}`);
    expect(gateway.span.name).toBe(`POST ${api.span.attributes['http.route']}`);
    expect(snsPublish.span.attributes).toMatchObject({ 'messaging.system': 'aws_sns', 'messaging.destination.name': `${ns}-jobs` });
    expect(worker.attributes['messaging.system']).toBe('aws_sqs');
    // The batch calls carry many jobs: they link to each job's span instead of joining one trace.
    for (const producer of [relayPublish.span, snsPublish.span]) {
      const batch = receiver.spans.find((s) => s.name.startsWith('send ') && s.links.some((l) => l.spanId === producer.spanId));
      expect(batch, `a batch send span links to ${producer.name}`).toBeDefined();
    }
  }

  it('runs gateway -> api -> Kafka -> bridge -> SNS -> SQS -> worker -> Postgres in one trace', async () => {
    const { body } = await client.submit({ type: 'noop', payload: {} });
    const jobId = String(body.jobId);
    expect(await client.waitForFinish(jobId)).toMatchObject({ status: 'success' });
    const { spans, worker, traceId } = await traceOf(jobId);
    console.log(`trace ${traceId} of job ${jobId}:\n${formatTree(spans)}`);
    expectChain(spans, worker);
    expect(new Set(spans.map((s) => s.service))).toEqual(
      new Set(['gateway', 'api', 'bridge', 'worker', ...(spans.some((s) => s.service === 'scheduler') ? ['scheduler'] : [])]),
    );
  });

  it('continues the same trace through the scheduler for a delayed job: all five services', async () => {
    const runAt = new Date(Date.now() + 5_000).toISOString();
    const { body } = await client.submit({ type: 'noop', payload: {}, runAt });
    const jobId = String(body.jobId);
    expect(await client.waitForFinish(jobId)).toMatchObject({ status: 'success' });
    const { spans, worker, traceId } = await traceOf(jobId);
    console.log(`trace ${traceId} of delayed job ${jobId}:\n${formatTree(spans)}`);
    expectChain(spans, worker);
    const dispatch = spans.find((s) => s.service === 'scheduler' && s.name === 'dispatch noop');
    expect(dispatch, 'the scheduler dispatch span').toBeDefined();
    expect(ancestors(spans, dispatch!).some((s) => s.service === 'api' && s.kind === SERVER)).toBe(true);
    expect(new Set(spans.map((s) => s.service))).toEqual(
      new Set(['gateway', 'api', 'scheduler', 'bridge', 'worker']),
    );
  });
});

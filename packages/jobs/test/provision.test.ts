import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ListSubscriptionsByTopicCommand, PublishCommand, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { createKafka, createLogger, createS3Client, createSnsClient, createSqsClient } from '@conveyor/platform';
import { ensureSnsTopic, poolQueueNames, provision, provisionPoolQueues, topology, type Provisioned } from '@conveyor/jobs';
import { awsOptions, infra, uniqueName } from '../../../test/support/infra.js';

const logger = createLogger({ service: 'provision-test', level: 'warn' });
const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist/provision-cli.js');

describe('provision against real Kafka and the SNS/SQS/S3 emulator', () => {
  const topo = topology(uniqueName('prov').replaceAll('_', '-'));
  const bucket = uniqueName('bucket').replaceAll('_', '-');
  const kafka = createKafka({ brokers: infra.kafkaBrokers, clientId: 'provision-test', logger });
  const [sns, sqs, s3] = [createSnsClient(awsOptions), createSqsClient(awsOptions), createS3Client(awsOptions)];
  const run = () => provision({ kafka, sns, sqs, s3, topology: topo, bucket, partitions: 3, logger });
  let first: Provisioned;

  beforeAll(async () => {
    first = await run();
  });
  afterAll(() => {
    for (const client of [sns, sqs, s3]) client.destroy();
  });

  it('creates the Kafka topics with the partitions asked for', async () => {
    expect(first.topics.created.sort()).toEqual([topo.topics.events, topo.topics.requested, topo.topics.requestedOverflow].sort());
    const admin = kafka.admin();
    await admin.connect();
    const { topics } = await admin.fetchTopicMetadata({ topics: [topo.topics.requested, topo.topics.requestedOverflow, topo.topics.events] });
    await admin.disconnect();
    expect(topics.map((t) => t.partitions.length)).toEqual([3, 3, 3]);
  });

  it('sets visibility, redrive and raw, pool-filtered subscriptions per pool; the bucket exists', async () => {
    for (const [i, q] of topo.queues.entries()) {
      const provisioned = first.queues[i]!;
      expect(provisioned.queueUrl).toContain(q.queue);
      // Two queues per class (regular and overflow lane), all redriving to the pool's one DLQ.
      expect(provisioned.classQueues.map((c) => c.key)).toEqual(['high', 'high_overflow', 'normal', 'normal_overflow', 'low', 'low_overflow']);
      for (const c of provisioned.classQueues) {
        expect(c.queueUrl.endsWith(`/${(c.lane === 'overflow' ? q.overflowQueues : q.classQueues)[c.priority]}`)).toBe(true);
        const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: c.queueUrl, AttributeNames: ['All'] }));
        expect(Attributes?.VisibilityTimeout).toBe(String(q.pool.visibilityTimeoutSeconds));
        expect(JSON.parse(Attributes!.RedrivePolicy!)).toEqual({
          deadLetterTargetArn: provisioned.deadLetterQueueArn,
          maxReceiveCount: q.pool.maxReceiveCount,
        });
      }
    }
    await expect(s3.send(new HeadBucketCommand({ Bucket: bucket }))).resolves.toBeDefined();
  });

  it('routes a message by its pool, priority and lane attributes, raw, to exactly one queue, whatever its type', async () => {
    const receive = async (url: string) =>
      (await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 1, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'] })))
        .Messages ?? [];
    const [defaults, reports] = first.queues;
    await sns.send(
      new PublishCommand({
        TopicArn: first.snsTopicArn,
        Message: '{"kind":"report"}',
        MessageAttributes: { type: { DataType: 'String', StringValue: 'report.generate' }, pool: { DataType: 'String', StringValue: 'reports' } },
      }),
    );
    await sns.send(
      new PublishCommand({
        TopicArn: first.snsTopicArn,
        Message: '{"kind":"registered"}',
        // A type registered at run time, in an existing pool: no subscription names it.
        MessageAttributes: { type: { DataType: 'String', StringValue: 'billing.invoice-send' }, pool: { DataType: 'String', StringValue: 'default' } },
      }),
    );
    const classed = async (body: string, priority: string, lane?: string) =>
      sns.send(
        new PublishCommand({
          TopicArn: first.snsTopicArn,
          Message: body,
          MessageAttributes: {
            pool: { DataType: 'String', StringValue: 'default' },
            priority: { DataType: 'String', StringValue: priority },
            ...(lane ? { lane: { DataType: 'String', StringValue: lane } } : {}),
          },
        }),
      );
    await classed('{"kind":"high"}', 'high');
    await classed('{"kind":"normal"}', 'normal');
    await classed('{"kind":"low"}', 'low');
    await classed('{"kind":"high-overflow"}', 'high', 'overflow');
    await classed('{"kind":"normal-overflow"}', 'normal', 'overflow');
    await classed('{"kind":"low-overflow"}', 'low', 'overflow');
    const queueOf = (q: typeof defaults, key: string) => q!.classQueues.find((c) => c.key === key)!.queueUrl;
    const onReports = await receive(reports!.queueUrl);
    const onDefault = await receive(defaults!.queueUrl);
    expect(onReports.map((m) => m.Body)).toEqual(['{"kind":"report"}']);
    expect(onReports[0]!.MessageAttributes?.type?.StringValue).toBe('report.generate');
    // A message without a priority (a bridge of before classes) is normal work.
    expect(onDefault.map((m) => m.Body).sort()).toEqual(['{"kind":"normal"}', '{"kind":"registered"}']);
    expect((await receive(queueOf(defaults, 'high'))).map((m) => m.Body)).toEqual(['{"kind":"high"}']);
    expect((await receive(queueOf(defaults, 'low'))).map((m) => m.Body)).toEqual(['{"kind":"low"}']);
    // The overflow lane of each class holds only the messages marked for it.
    expect((await receive(queueOf(defaults, 'high_overflow'))).map((m) => m.Body)).toEqual(['{"kind":"high-overflow"}']);
    expect((await receive(queueOf(defaults, 'normal_overflow'))).map((m) => m.Body)).toEqual(['{"kind":"normal-overflow"}']);
    expect((await receive(queueOf(defaults, 'low_overflow'))).map((m) => m.Body)).toEqual(['{"kind":"low-overflow"}']);
    expect(await receive(queueOf(reports, 'high'))).toEqual([]);
    expect(await receive(queueOf(reports, 'normal_overflow'))).toEqual([]);
  });

  it('upgrades a pool provisioned before lanes without a message matching no queue, before or after', async () => {
    const receive = async (url: string) => (await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 1, MaxNumberOfMessages: 10 }))).Messages ?? [];
    const namespace = uniqueName('legacy').replaceAll('_', '-');
    const names = poolQueueNames(namespace, 'legacy');
    const topicArn = await ensureSnsTopic(sns, `${namespace}-jobs`);
    // The pool as provisioned before lanes: its normal queue filtered on pool and priority only.
    const normalUrl = (await sqs.send(new CreateQueueCommand({ QueueName: names.queue }))).QueueUrl!;
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: normalUrl, AttributeNames: ['QueueArn'] }));
    await sns.send(
      new SubscribeCommand({
        TopicArn: topicArn,
        Protocol: 'sqs',
        Endpoint: Attributes!.QueueArn!,
        Attributes: { RawMessageDelivery: 'true', FilterPolicy: JSON.stringify({ pool: ['legacy'], priority: ['normal', { exists: false }] }) },
      }),
    );
    const overflowMessage = (body: string) =>
      sns.send(
        new PublishCommand({
          TopicArn: topicArn,
          Message: body,
          MessageAttributes: { pool: { DataType: 'String', StringValue: 'legacy' }, priority: { DataType: 'String', StringValue: 'normal' }, lane: { DataType: 'String', StringValue: 'overflow' } },
        }),
      );
    await overflowMessage('before');
    expect((await receive(normalUrl)).map((m) => m.Body)).toEqual(['before']);
    const upgraded = await provisionPoolQueues({ sns, sqs, snsTopicArn: topicArn, pool: { ...topo.queues[0]!.pool, name: 'legacy' }, names });
    await overflowMessage('after');
    const overflowUrl = upgraded.classQueues.find((c) => c.key === 'normal_overflow')!.queueUrl;
    expect((await receive(overflowUrl)).map((m) => m.Body)).toEqual(['after']);
    expect(await receive(normalUrl)).toEqual([]);
  });

  it('changes nothing and does not fail when run again', async () => {
    const second = await run();
    expect(second.topics.created).toEqual([]);
    expect({ ...second, topics: { ...second.topics, created: [] } }).toEqual({ ...first, topics: { ...first.topics, created: [] } });
    const { Subscriptions } = await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: first.snsTopicArn }));
    expect(Subscriptions).toHaveLength(topo.queues.length * 6);
  });

  it('runs from the CLI with environment variables, twice, and names a bad variable', async () => {
    const env = {
      PATH: process.env.PATH,
      KAFKA_BROKERS: infra.kafkaBrokers.join(','),
      AWS_ENDPOINT_URL: infra.awsEndpoint,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      CONVEYOR_NAMESPACE: uniqueName('cli').replaceAll('_', '-'),
      S3_BUCKET: uniqueName('cli-bucket').replaceAll('_', '-'),
      KAFKA_PARTITIONS: '2',
    };
    const run = promisify(execFile);
    for (let i = 0; i < 2; i++) {
      const { stdout } = await run(process.execPath, [CLI], { env });
      expect(stdout).toContain('"msg":"provisioned"');
    }
    const bad = await run(process.execPath, [CLI], { env: { ...env, KAFKA_PARTITIONS: 'many' } }).catch((e) => e);
    expect(bad.code).toBe(78);
    expect(bad.stderr).toContain('KAFKA_PARTITIONS');
  });
});

import { CreateTopicCommand, ListSubscriptionsByTopicCommand, SetSubscriptionAttributesCommand, SubscribeCommand, UnsubscribeCommand, type SNSClient } from '@aws-sdk/client-sns';
import { CreateQueueCommand, DeleteQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand, SetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { CreateBucketCommand, HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Kafka, Logger, PriorityClass } from '@conveyor/platform';
import { DEFAULT_PRIORITY } from './priority.js';
import { workQueues, type Lane, type PoolQueues, type Topology, type WorkerPool } from './topology.js';

export interface ProvisionOptions {
  kafka: Kafka;
  sns: SNSClient;
  sqs: SQSClient;
  s3: S3Client;
  topology: Topology;
  bucket: string;
  partitions?: number;
  replicationFactor?: number;
  logger?: Logger;
}

export interface ProvisionedClassQueue {
  priority: PriorityClass;
  lane: Lane;
  /** Unique in the pool: the class, or `<class>_overflow` (workQueues). */
  key: string;
  queueUrl: string;
  queueArn: string;
  subscriptionArn: string;
}

export interface ProvisionedQueue {
  pool: string;
  /** The normal class's queue (the pool's queue of before classes) and its subscription. */
  queueUrl: string;
  queueArn: string;
  deadLetterQueueUrl: string;
  deadLetterQueueArn: string;
  subscriptionArn: string;
  /** Every class's queues (regular and overflow lane), highest class first, regular before overflow. */
  classQueues: ProvisionedClassQueue[];
}

export interface Provisioned {
  topics: { requested: string; requestedOverflow: string; events: string; created: string[] };
  snsTopicArn: string;
  queues: ProvisionedQueue[];
  bucket: string;
}

/**
 * The subscription attributes every class queue of a pool must have, whatever an earlier run left.
 * The filter is on the `pool` attribute (the registered type's pool, set by the bridge), not on
 * the type: a type registered at run time reaches its pool's queues without re-provisioning. And on
 * `priority`, which the bridge always sets; the normal queue also takes a message without one (a
 * bridge of before classes, during an upgrade), so every message matches exactly one queue.
 * And on `lane`: the bridge sets it (to `overflow`) only on a job of a tenant over its threshold;
 * the regular lane takes every message without it, so a bridge of before lanes routes as it did.
 */
export function subscriptionAttributes(pool: Pick<WorkerPool, 'name'>, priority: PriorityClass = DEFAULT_PRIORITY, lane: Lane = 'regular'): Record<string, string> {
  const classes: unknown[] = priority === DEFAULT_PRIORITY ? [priority, { exists: false }] : [priority];
  const lanes: unknown[] = lane === 'regular' ? [{ exists: false }] : [lane];
  return { RawMessageDelivery: 'true', FilterPolicy: JSON.stringify({ pool: [pool.name], priority: classes, lane: lanes }) };
}

export function queueAttributes(pool: WorkerPool, deadLetterArn: string, topicArn: string, queueArn?: string): Record<string, string> {
  const attributes: Record<string, string> = {
    VisibilityTimeout: String(pool.visibilityTimeoutSeconds),
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: deadLetterArn, maxReceiveCount: pool.maxReceiveCount }),
  };
  // Real SQS refuses SNS deliveries unless the queue policy allows this topic to send.
  if (queueArn) {
    attributes.Policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Service: 'sns.amazonaws.com' },
          Action: 'sqs:SendMessage',
          Resource: queueArn,
          Condition: { ArnEquals: { 'aws:SourceArn': topicArn } },
        },
      ],
    });
  }
  return attributes;
}

async function ensureKafkaTopics(kafka: Kafka, names: string[], partitions: number, replicationFactor: number): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = names.filter((name) => !existing.has(name));
    if (missing.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        // kafkajs waits 5 s by default; a busy broker electing leaders for new partitions can take longer.
        timeout: 30_000,
        topics: missing.map((topic) => ({ topic, numPartitions: partitions, replicationFactor })),
      });
    }
    return missing;
  } finally {
    await admin.disconnect();
  }
}

function isAwsError(error: unknown, ...names: string[]): boolean {
  return error instanceof Error && names.includes(error.name);
}

/** Creates a queue, or brings an existing one's attributes to what is wanted (CreateQueue refuses changes). */
async function ensureQueue(sqs: SQSClient, name: string, attributes: Record<string, string>): Promise<{ url: string; arn: string }> {
  let url: string;
  try {
    url = (await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }))).QueueUrl!;
  } catch (error) {
    if (!isAwsError(error, 'QueueNameExists', 'QueueAlreadyExists', 'AWS.SimpleQueueService.QueueNameExists')) throw error;
    url = (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl!;
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: attributes }));
  }
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
  return { url, arn: Attributes!.QueueArn! };
}

async function ensureSubscription(sns: SNSClient, topicArn: string, queueArn: string, attributes: Record<string, string>): Promise<string> {
  let token: string | undefined;
  do {
    const page = await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn, NextToken: token }));
    const existing = page.Subscriptions?.find((s) => s.Protocol === 'sqs' && s.Endpoint === queueArn);
    if (existing?.SubscriptionArn) {
      for (const [AttributeName, AttributeValue] of Object.entries(attributes)) {
        await sns.send(new SetSubscriptionAttributesCommand({ SubscriptionArn: existing.SubscriptionArn, AttributeName, AttributeValue }));
      }
      return existing.SubscriptionArn;
    }
    token = page.NextToken;
  } while (token);
  const { SubscriptionArn } = await sns.send(
    new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: queueArn, Attributes: attributes, ReturnSubscriptionArn: true }),
  );
  return SubscriptionArn!;
}

async function ensureBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
    return;
  } catch (error) {
    if (!isAwsError(error, 'NotFound', 'NoSuchBucket')) throw error;
  }
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (error) {
    if (!isAwsError(error, 'BucketAlreadyOwnedByYou')) throw error;
  }
}

export interface PoolQueuesOptions {
  sns: SNSClient;
  sqs: SQSClient;
  snsTopicArn: string;
  pool: WorkerPool;
  names: Pick<PoolQueues, 'deadLetterQueue' | 'classQueues' | 'overflowQueues'>;
}

/**
 * One pool's queues, two per priority class (the regular and the overflow lane), subscribed to the
 * jobs topic by the `pool`, `priority` and `lane` filter, and the DLQ they share: for the
 * platform's pools (provision) and for the WorkerPool resources the operator reconciles alike.
 * Idempotent.
 */
export async function provisionPoolQueues(options: PoolQueuesOptions): Promise<ProvisionedQueue> {
  const { sns, sqs, snsTopicArn, pool, names } = options;
  const dlq = await ensureQueue(sqs, names.deadLetterQueue, {});
  const provisioned = new Map<string, ProvisionedClassQueue>();
  // Overflow lanes first: a regular queue provisioned before lanes takes overflow messages too
  // until its filter gains the lane condition, and that must not happen before the overflow queue
  // is subscribed (in between, an overflow message would match no queue at all).
  const queues = workQueues(names);
  for (const { priority, lane, key, queue } of [...queues.filter((q) => q.lane === 'overflow'), ...queues.filter((q) => q.lane === 'regular')]) {
    // The queue's ARN is needed for its own policy, so the policy is set once the queue exists.
    const main = await ensureQueue(sqs, queue, queueAttributes(pool, dlq.arn, snsTopicArn));
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl: main.url, Attributes: queueAttributes(pool, dlq.arn, snsTopicArn, main.arn) }));
    const subscriptionArn = await ensureSubscription(sns, snsTopicArn, main.arn, subscriptionAttributes(pool, priority, lane));
    provisioned.set(key, { priority, lane, key, queueUrl: main.url, queueArn: main.arn, subscriptionArn });
  }
  const classQueues = queues.map((q) => provisioned.get(q.key)!);
  const normal = provisioned.get(DEFAULT_PRIORITY)!;
  return {
    pool: pool.name,
    queueUrl: normal.queueUrl,
    queueArn: normal.queueArn,
    deadLetterQueueUrl: dlq.url,
    deadLetterQueueArn: dlq.arn,
    subscriptionArn: normal.subscriptionArn,
    classQueues,
  };
}

async function queueUrlOf(sqs: SQSClient, name: string): Promise<string | undefined> {
  try {
    return (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
  } catch (error) {
    if (isAwsError(error, 'QueueDoesNotExist', 'AWS.SimpleQueueService.NonExistentQueue')) return undefined;
    throw error;
  }
}

/**
 * Removes each class queue's subscription: the pool's queues get no new messages and keep the ones
 * they hold (a WorkerPool's deletion drains them before removePoolQueues). Idempotent.
 */
export async function unsubscribePoolQueues(options: Omit<PoolQueuesOptions, 'pool'>): Promise<void> {
  const { sns, sqs, snsTopicArn, names } = options;
  for (const { queue } of workQueues(names)) {
    const queueUrl = await queueUrlOf(sqs, queue);
    if (!queueUrl) continue;
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
    let token: string | undefined;
    do {
      const page = await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: snsTopicArn, NextToken: token }));
      for (const sub of page.Subscriptions ?? []) {
        if (sub.Protocol === 'sqs' && sub.Endpoint === Attributes?.QueueArn && sub.SubscriptionArn) {
          await sns.send(new UnsubscribeCommand({ SubscriptionArn: sub.SubscriptionArn }));
        }
      }
      token = page.NextToken;
    } while (token);
  }
}

/** Undoes provisionPoolQueues: the subscriptions first (no new messages), then the queues and the DLQ. Idempotent. */
export async function removePoolQueues(options: Omit<PoolQueuesOptions, 'pool'>): Promise<void> {
  const { sqs, names } = options;
  await unsubscribePoolQueues(options);
  for (const queue of [...workQueues(names).map((q) => q.queue), names.deadLetterQueue]) {
    const queueUrl = await queueUrlOf(sqs, queue);
    if (queueUrl) await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
  }
}

/** The jobs topic's ARN (CreateTopic is idempotent: it answers the existing topic's). */
export async function ensureSnsTopic(sns: SNSClient, name: string): Promise<string> {
  return (await sns.send(new CreateTopicCommand({ Name: name }))).TopicArn!;
}

/**
 * Creates (or confirms) everything the pipeline needs: Kafka topics, the SNS topic, per worker pool
 * its class queues and DLQ (provisionPoolQueues), and the results bucket.
 * Safe to run any number of times and from several places (`make dev`, the Helm hook).
 */
export async function provision(options: ProvisionOptions): Promise<Provisioned> {
  const { kafka, sns, sqs, s3, topology, bucket, partitions = 6, replicationFactor = 1, logger } = options;
  const { requested, requestedOverflow, events } = topology.topics;
  const created = await ensureKafkaTopics(kafka, [requested, requestedOverflow, events], partitions, replicationFactor);
  const snsTopicArn = await ensureSnsTopic(sns, topology.snsTopic);
  const queues: ProvisionedQueue[] = [];
  for (const names of topology.queues) queues.push(await provisionPoolQueues({ sns, sqs, snsTopicArn, pool: names.pool, names }));
  await ensureBucket(s3, bucket);
  const result = { topics: { requested, requestedOverflow, events, created }, snsTopicArn, queues, bucket };
  logger?.info({ ...result }, 'provisioned');
  return result;
}

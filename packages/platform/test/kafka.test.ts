import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafka, createLogger, type Kafka, type KafkaMessage } from '@conveyor/platform';
import { infra, uniqueName } from '../../../test/support/infra.js';

const logger = createLogger({ service: 'test', level: 'error' });

async function consumeUntil(kafka: Kafka, groupId: string, topic: string, count: number): Promise<KafkaMessage[]> {
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1_000 });
  const seen: KafkaMessage[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`saw ${seen.length} of ${count} messages`)), 30_000);
    void consumer.run({
      autoCommit: false,
      eachMessage: async ({ message, partition }) => {
        seen.push(message);
        // Commit explicitly, as the bridge does once SNS has accepted the work.
        await consumer.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
        if (seen.length >= count) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  await consumer.disconnect();
  return seen;
}

describe('Kafka (real broker, KRaft)', () => {
  let kafka: Kafka;
  const topic = uniqueName('t');
  const idleTopic = uniqueName('idle');

  beforeAll(async () => {
    kafka = createKafka({ brokers: infra.kafkaBrokers, clientId: 'platform-test', logger });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [topic, idleTopic].map((t) => ({ topic: t, numPartitions: 3, replicationFactor: 1 })),
      waitForLeaders: true,
    });
    await admin.disconnect();
  });
  afterAll(async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic, idleTopic] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('an idle connection arms no timer (kafkajs re-armed a 1 ms one for ever after its first answer)', async () => {
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: idleTopic, messages: [{ key: 'idle', value: '{}' }] });
    const original = globalThis.setTimeout;
    let shortTimers = 0;
    globalThis.setTimeout = ((fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
      if ((ms ?? 0) <= 10) shortTimers += 1;
      return original(fn, ms, ...args);
    }) as typeof setTimeout;
    try {
      await new Promise((resolve) => original(resolve, 300));
    } finally {
      globalThis.setTimeout = original;
    }
    // Unpatched, the connection's request queue set a timer about every millisecond: hundreds here.
    expect(shortTimers).toBeLessThan(5);
    // Still sends once idle: a new request finds the queue free, nothing waited on a timer.
    await producer.send({ topic: idleTopic, messages: [{ key: 'after', value: '{}' }] });
    await producer.disconnect();
  });

  it('produce with acks=all, consume in a group, commit, and resume after the committed offset', async () => {
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const send = (from: number, to: number) =>
      producer.send({
        topic,
        acks: -1,
        messages: Array.from({ length: to - from }, (_, i) => ({
          key: `k${from + i}`,
          value: JSON.stringify({ n: from + i }),
          headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
        })),
      });
    const groupId = uniqueName('g');

    await send(0, 10);
    const first = await consumeUntil(kafka, groupId, topic, 10);
    expect(first.map((m) => JSON.parse(m.value!.toString()).n).sort((a, b) => a - b)).toEqual([...Array(10).keys()]);
    expect(first[0]!.headers?.traceparent?.toString()).toMatch(/^00-4bf92f35/);

    await send(10, 15);
    // Same group again: only what was produced after the commit arrives.
    const second = await consumeUntil(kafka, groupId, topic, 5);
    expect(second.map((m) => JSON.parse(m.value!.toString()).n).sort((a, b) => a - b)).toEqual([10, 11, 12, 13, 14]);
    await producer.disconnect();

    const admin = kafka.admin();
    await admin.connect();
    const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
    await admin.disconnect();
    const committed = offsets[0]!.partitions.reduce((sum, p) => sum + Number(p.offset), 0);
    expect(committed).toBe(15);
  });
});

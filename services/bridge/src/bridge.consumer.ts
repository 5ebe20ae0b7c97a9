import type { PublishBatchRequestEntry } from '@aws-sdk/client-sns';
import {
  captureContext,
  endSpans,
  fromMessageAttributes,
  startProcessSpan,
  startPublishSpan,
  toMessageAttributes,
  withBatchSend,
  type Consumer,
  type EachBatchPayload,
  type Kafka,
  type KafkaMessage,
  type Logger,
} from '@conveyor/platform';
import type { SnsBreaker } from './breaker.js';
import type { RejectedEventsProducer, Rejection } from './events.producer.js';
import type { BridgeMetrics } from './metrics.js';
import { chunk, classify } from './records.js';

export interface BridgeConsumerOptions {
  kafka: Kafka;
  topic: string;
  groupId: string;
  /** SNS topic name, for the publish spans. */
  snsTopic: string;
  breaker: SnsBreaker;
  events: RejectedEventsProducer;
  metrics: BridgeMetrics;
  logger: Logger;
  batchSize: number;
  publishConcurrency: number;
  partitionsConcurrency: number;
  failurePauseMs: number;
  sessionTimeoutMs: number;
  /**
   * How often accepted offsets are committed; 0 commits after every window, in line. A crash
   * re-publishes what was accepted since the last commit.
   */
  commitIntervalMs: number;
}

export interface BridgeConsumer {
  stop(): Promise<void>;
}

const nextOffset = (offset: string) => (BigInt(offset) + 1n).toString();

/**
 * Kafka -> SNS. Offsets move only past records SNS accepted (or that were set aside and recorded
 * as rejected), so a crash at any point re-publishes rather than loses: duplicates are possible,
 * and the worker's claim makes them harmless.
 */
export function startBridgeConsumer(options: BridgeConsumerOptions): BridgeConsumer {
  const { kafka, topic, groupId, breaker, events, metrics, batchSize, publishConcurrency } = options;
  const logger = options.logger.child({ component: 'bridge-consumer' });
  const consumer: Consumer = kafka.consumer({
    groupId,
    sessionTimeout: options.sessionTimeoutMs,
    rebalanceTimeout: options.sessionTimeoutMs,
    heartbeatInterval: Math.min(3_000, Math.floor(options.sessionTimeoutMs / 3)),
    maxWaitTimeInMs: 100,
  });
  let stopped = false;
  let paused = false;
  let resumeTimer: NodeJS.Timeout | undefined;

  /** Offsets (next to read) accepted by SNS but not yet committed, by partition. */
  const uncommitted = new Map<number, string>();
  /** Batches being published: stop() waits for them, then commits (kafkajs drops commits once stopped). */
  const batchesInFlight = new Set<Promise<void>>();
  let committing: Promise<void> | undefined;

  /** Commits what is uncommitted; a failed commit leaves it for the next one (newer offsets win). */
  function commitAccepted(): Promise<void> {
    if (committing || uncommitted.size === 0) return committing ?? Promise.resolve();
    const offsets = [...uncommitted].map(([partition, offset]) => ({ topic, partition, offset }));
    uncommitted.clear();
    committing = consumer
      .commitOffsets(offsets)
      .catch((error: unknown) => {
        for (const { partition, offset } of offsets) {
          const newer = uncommitted.get(partition);
          if (newer === undefined || BigInt(newer) < BigInt(offset)) uncommitted.set(partition, offset);
        }
        logger.warn({ err: error }, 'committing offsets failed; retrying with the next commit');
      })
      .finally(() => {
        committing = undefined;
      });
    return committing;
  }
  const commitTimer = options.commitIntervalMs > 0 ? setInterval(() => void commitAccepted(), options.commitIntervalMs) : undefined;

  const resume = () => {
    clearTimeout(resumeTimer);
    if (!paused || stopped) return;
    paused = false;
    metrics.paused.set(0);
    consumer.resume([{ topic }]);
    logger.info('consumption resumed');
  };

  /** Stops fetching instead of spinning: an open breaker resumes on its half-open trial, otherwise after a pause. */
  const pause = () => {
    if (paused) return;
    paused = true;
    metrics.paused.set(1);
    consumer.pause([{ topic }]);
    if (!breaker.opened) resumeTimer = setTimeout(resume, options.failurePauseMs);
  };
  breaker.on('halfOpen', resume);
  breaker.on('close', resume);

  /**
   * `process <topic>` continues the trace the Kafka headers carried; `publish <sns topic>` under it
   * is what the SNS entry's attributes now carry, so the worker continues from here.
   */
  function traceRecord(partition: number, entry: PublishBatchRequestEntry, jobId: string) {
    const received = fromMessageAttributes(entry.MessageAttributes);
    const consumed = startProcessSpan({
      system: 'kafka',
      destination: topic,
      messageId: jobId,
      parent: received,
      attributes: { 'messaging.consumer.group.name': groupId, 'messaging.destination.partition.id': String(partition) },
    });
    const produced = startPublishSpan({
      system: 'aws_sns',
      destination: options.snsTopic,
      messageId: jobId,
      parent: captureContext(consumed.context, received.requestId),
    });
    entry.MessageAttributes = { ...entry.MessageAttributes, ...toMessageAttributes(produced.carried) };
    return { entryId: entry.Id, consumed: consumed.span, produced };
  }

  /** One SNS call's worth of records: publish the valid ones, record the rest as rejected. */
  async function handleChunk(partition: number, messages: KafkaMessage[]): Promise<void> {
    const classified = messages.map((m) => classify({ topic, partition, offset: m.offset }, m));
    const rejections: Rejection[] = [];
    const toPublish: Array<{ entry: PublishBatchRequestEntry; rejection: Omit<Rejection, 'reason'> }> = [];
    for (const c of classified) {
      if (c.kind === 'reject') rejections.push(c);
      else toPublish.push({ entry: c.entry, rejection: { ref: c.ref, jobId: c.jobId } });
    }
    let refusedCount = 0;
    if (toPublish.length > 0) {
      const traced = toPublish.map((p) => traceRecord(partition, p.entry, p.rejection.jobId ?? p.entry.Id!));
      let refused;
      try {
        refused = await withBatchSend('aws_sns', options.snsTopic, traced.map((t) => t.produced), () =>
          breaker.fire(toPublish.map((p) => p.entry)),
        );
      } catch (error) {
        endSpans(traced.flatMap((t) => [t.produced.span, t.consumed]), error);
        throw error;
      }
      for (const t of traced) {
        const failure = refused.find((f) => f.id === t.entryId);
        endSpans([t.produced.span, t.consumed], failure ? new Error(`SNS refused: ${failure.code}`) : undefined);
      }
      const acceptedAt = Date.now();
      for (const m of messages) metrics.recordLatency.observe(Math.max(0, (acceptedAt - Number(m.timestamp)) / 1000));
      refusedCount = refused.length;
      for (const failure of refused) {
        const source = toPublish.find((p) => p.entry.Id === failure.id);
        if (source) rejections.push({ ...source.rejection, reason: `SNS refused: ${failure.code} ${failure.message}` });
      }
    }
    await events.send(rejections);
    for (const r of rejections) {
      logger.warn({ ...r.ref, jobId: r.jobId, reason: r.reason }, 'record rejected and skipped');
      metrics.rejected.inc({ reason: r.reason.startsWith('SNS refused') ? 'sns_refused' : 'malformed' });
    }
    metrics.published.inc(toPublish.length - refusedCount);
    metrics.consumed.inc(messages.length);
  }

  async function run(): Promise<void> {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    if (stopped) return;
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: options.partitionsConcurrency,
      eachBatch: (payload) => {
        if (stopped) return Promise.resolve();
        const done = publishBatch(payload).finally(() => batchesInFlight.delete(done));
        batchesInFlight.add(done);
        return done;
      },
    });
  }

  /** Publishes one fetched batch window by window; offsets advance over what SNS accepted. */
  async function publishBatch({ batch, resolveOffset, commitOffsetsIfNecessary, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const chunks = chunk(batch.messages, batchSize);
    for (let i = 0; i < chunks.length; i += publishConcurrency) {
      if (!isRunning() || isStale() || paused || stopped) return;
      const window = chunks.slice(i, i + publishConcurrency);
      const results = await Promise.allSettled(window.map((c) => handleChunk(batch.partition, c)));
      // Offsets advance over the accepted prefix only; anything after a failure is fetched again.
      const accepted = results.findIndex((r) => r.status === 'rejected');
      const done = accepted === -1 ? window : window.slice(0, accepted);
      const last = done.at(-1)?.at(-1);
      if (last) {
        resolveOffset(last.offset);
        if (commitTimer) uncommitted.set(batch.partition, nextOffset(last.offset));
        else await commitOffsetsIfNecessary({ topics: [{ topic, partitions: [{ partition: batch.partition, offset: nextOffset(last.offset) }] }] });
      }
      await heartbeat();
      if (accepted !== -1) {
        const failure = (results[accepted] as PromiseRejectedResult).reason;
        logger.error({ err: failure, partition: batch.partition, breaker: breaker.opened ? 'open' : 'closed' }, 'publishing to SNS failed; pausing');
        pause();
        return;
      }
    }
  }

  let wakeUp: (() => void) | undefined;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  let backoff = 500;
  const started = (async () => {
    while (!stopped) {
      try {
        await run();
        logger.info({ topic, groupId }, 'bridge consuming');
        return;
      } catch (error) {
        if (stopped) return;
        logger.error({ err: error, retryInMs: backoff }, 'could not start consuming; retrying');
        await consumer.disconnect().catch(() => undefined);
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 15_000);
      }
    }
  })();

  let stopping: Promise<void> | undefined;
  return {
    stop: () =>
      (stopping ??= (async () => {
        stopped = true;
        clearTimeout(resumeTimer);
        clearInterval(commitTimer);
        wakeUp?.();
        // Stop waits for the batch in flight; what SNS accepted is committed before the group is
        // left, so the next owner of these partitions starts after it. A start still retrying
        // against an absent broker is abandoned, not awaited.
        await Promise.allSettled([...batchesInFlight]);
        while (committing) await committing;
        await commitAccepted();
        await consumer.disconnect();
        await Promise.race([started, new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
      })()),
  };
}

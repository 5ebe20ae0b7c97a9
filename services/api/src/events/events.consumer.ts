import { backoffDelay } from '@conveyor/platform';
import type { Kafka, Logger, Pool, Registry } from '@conveyor/platform';
import type { Topology } from '@conveyor/jobs';
import { createEventsConsumerMetrics } from './events.metrics.js';
import { outcomeOf, parseJobEventMessage, type JobEventMessage, type Outcome } from './job-event.message.js';
import { insertNotifications, type NewNotification } from '../notifications/notifications.repo.js';
import { findFinishedJobs, type FinishedJob } from './job-events.repo.js';
import { OffsetTracker } from './offset-tracker.js';
import { insertDeliveries, type NewDelivery } from '../webhooks/deliveries.repo.js';
import type { WebhookMetrics } from '../webhooks/metrics.js';

export interface JobEventsConsumerOptions {
  kafka: Kafka;
  pool: Pool;
  topology: Topology;
  logger: Logger;
  registry?: Registry;
  /** Counts stored webhook deliveries; the webhook dispatcher shares it. */
  webhookMetrics: WebhookMetrics;
  /** Called once new webhook deliveries are stored (wakes the dispatcher). */
  onDeliveriesStored?: () => void;
  /** Base of `resultUrl` in webhook bodies (the public gateway URL); relative path when unset. */
  publicBaseUrl?: string;
  /** A new consumer group starts at the beginning of the topic (tests); production joins at the end. */
  fromBeginning?: boolean;
  commitIntervalMs?: number;
  /**
   * How long the broker may hold a fetch to gather a batch of events. Notices and webhooks wait at
   * most this long; in exchange a quiet api fetches a few times a second instead of once per event.
   */
  fetchWaitMs?: number;
}

export interface WebhookBody {
  jobId: string;
  type: string;
  status: Outcome;
  finishedAt: string;
  resultUrl?: string;
  error?: string;
}

/** What the job's owner and its callback receive when a job ends. Pure, for tests. */
export function completionNotice(
  event: JobEventMessage,
  job: FinishedJob,
  outcome: Outcome,
  publicBaseUrl?: string,
): { message: string; body: WebhookBody } {
  const error = job.error ?? (typeof event.data.error === 'string' ? event.data.error : undefined);
  const finishedAt = (job.finishedAt ?? new Date(event.createdAt)).toISOString();
  const body: WebhookBody = { jobId: job.id, type: job.type, status: outcome, finishedAt };
  if (outcome === 'success') body.resultUrl = `${publicBaseUrl?.replace(/\/+$/, '') ?? ''}/jobs/${job.id}/result`;
  if (outcome === 'failed' && error) body.error = error;
  const message =
    outcome === 'success'
      ? `Job ${job.type} ${job.id} succeeded.`
      : outcome === 'failed'
        ? `Job ${job.type} ${job.id} failed${error ? `: ${error.slice(0, 500)}` : '.'}`
        : `Job ${job.type} ${job.id} was cancelled.`;
  return { message, body };
}

/** Events handled by one pair of statements; a fetched batch can hold thousands. */
const MAX_BATCH = 500;

/** How long stop() waits for a start in progress (a broker that does not answer) before giving up on it. */
const START_WAIT_MS = 5_000;

/** About a hundred events. */
const EVENTS_FETCH_MIN_BYTES = 32 * 1024;

/**
 * Consumes jobs.events: on a job's terminal event, writes its owner's notification and, when the
 * job has a callbackUrl, stores its webhook delivery (webhook_deliveries), which the webhook
 * dispatcher sends. Both writes are idempotent (one notice per job and kind, one delivery per
 * event), so a redelivered batch changes nothing, and the Kafka offset is committed once they are
 * stored: a slow or failing receiver never holds the consumer back.
 */
export async function startJobEventsConsumer(options: JobEventsConsumerOptions): Promise<{ stop(): Promise<void> }> {
  const { kafka, pool, topology, registry } = options;
  const topic = topology.topics.events;
  const logger = options.logger.child({ component: 'job-events-consumer', topic });
  const metrics = createEventsConsumerMetrics(registry);
  const tracker = new OffsetTracker();
  const commitIntervalMs = options.commitIntervalMs ?? 1_000;

  const consumer = kafka.consumer({
    groupId: topology.consumerGroups.events,
    allowAutoTopicCreation: false,
    // disconnect() waits for the fetch in flight: kafkajs' default 5 s long poll made every drain
    // of an idle api take up to 5 s.
    maxWaitTimeInMs: options.fetchWaitMs ?? 200,
    // A fetch answers once this much is waiting or the wait is over, not at the first event: each
    // answer wakes the broker and the api, which costs this machine ~0.5 ms of CPU each.
    minBytes: EVENTS_FETCH_MIN_BYTES,
  });

  let commitTimer: NodeJS.Timeout | undefined;
  let committing: Promise<void> = Promise.resolve();
  const commit = () => {
    committing = committing.then(async () => {
      for (const partition of tracker.partitionsSeen) {
        const offset = tracker.committable(partition);
        if (offset === undefined) continue;
        try {
          await consumer.commitOffsets([{ topic, partition, offset }]);
          tracker.markCommitted(partition, offset);
        } catch (error) {
          // A rebalance moved the partition: its new owner re-reads from the last committed offset.
          logger.warn({ err: error, partition, offset }, 'offset commit failed');
        }
      }
    });
    return committing;
  };
  const scheduleCommit = () => {
    commitTimer ??= setTimeout(() => {
      commitTimer = undefined;
      void commit();
    }, commitIntervalMs);
  };
  const settle = (partition: number, offset: string) => {
    tracker.done(partition, offset);
    scheduleCommit();
  };

  /**
   * Handles one fetched batch of a partition: the jobs of its terminal events are read in one
   * query, their notices written in one and their webhook deliveries stored in one.
   */
  const handleBatch = async (partition: number, messages: ReadonlyArray<{ offset: string; value: Buffer | null }>) => {
    const terminal: Array<{ event: JobEventMessage; outcome: Outcome; offset: string }> = [];
    for (const { offset, value } of messages) {
      tracker.begin(partition, offset);
      const parsed = parseJobEventMessage(value);
      if (!parsed.ok) {
        metrics.malformed.inc();
        logger.warn({ partition, offset, reason: parsed.reason }, 'malformed jobs.events record skipped');
        settle(partition, offset);
        continue;
      }
      metrics.consumed.inc({ type: parsed.event.type });
      const outcome = outcomeOf(parsed.event.type);
      if (outcome) terminal.push({ event: parsed.event, outcome, offset });
      else settle(partition, offset);
    }
    if (terminal.length === 0) return;
    // A failure here (Postgres down) leaves the offsets in flight; kafkajs re-delivers the batch.
    const jobs = await findFinishedJobs(pool, terminal.map((t) => t.event.jobId));
    const notices: NewNotification[] = [];
    const deliveries: NewDelivery[] = [];
    for (const { event, outcome } of terminal) {
      const job = jobs.get(event.jobId);
      if (!job) {
        logger.warn({ jobId: event.jobId, eventId: event.eventId }, 'terminal event for a job that no longer exists; skipped');
        continue;
      }
      const { message, body } = completionNotice(event, job, outcome, options.publicBaseUrl);
      notices.push({ tenant: job.tenant, owner: job.owner, jobId: job.id, kind: event.type, message });
      if (job.callbackUrl) deliveries.push({ eventId: event.eventId, jobId: job.id, tenant: job.tenant, url: job.callbackUrl, body: JSON.stringify(body) });
    }
    metrics.notificationsWritten.inc(await insertNotifications(pool, notices));
    const stored = await insertDeliveries(pool, deliveries);
    options.webhookMetrics.stored.inc(stored);
    if (stored > 0) options.onDeliveriesStored?.();
    for (const { offset } of terminal) settle(partition, offset);
  };

  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    tracker.retain(payload.memberAssignment[topic] ?? []);
  });
  const run = async () => {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: options.fromBeginning ?? false });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (let i = 0; i < batch.messages.length; i += MAX_BATCH) {
          await handleBatch(batch.partition, batch.messages.slice(i, i + MAX_BATCH));
        }
      },
    });
  };
  // Kafka or the topic may not be there yet (first start, a broker restart): keep trying in the
  // background instead of refusing to start the api, whose other routes do not need Kafka.
  let stopped = false;
  let running = false;
  let endRetryWait: (() => void) | undefined;
  const starting = (async () => {
    for (let attempt = 1; !stopped; attempt++) {
      try {
        await run();
        running = true;
        logger.info({ topic }, 'jobs.events consumer running');
        return;
      } catch (error) {
        await consumer.disconnect().catch(() => undefined);
        const retryInMs = backoffDelay(attempt + 1, { baseMs: 500, maxMs: 30_000, jitter: 'equal' });
        logger.warn({ err: error, attempt, retryInMs }, `could not start the jobs.events consumer on ${topic}; retrying`);
        await new Promise<void>((resolve) => {
          endRetryWait = resolve;
          setTimeout(resolve, retryInMs);
        });
      }
    }
  })();

  let stopping: Promise<void> | undefined;
  const stop = async () => {
    stopped = true;
    endRetryWait?.();
    // A start in progress finishes first: disconnecting under it would let it join the group
    // afterwards, leaving a member that holds partitions until its session times out.
    await Promise.race([starting, new Promise((resolve) => setTimeout(resolve, START_WAIT_MS))]);
    if (!running) {
      clearTimeout(commitTimer);
      await consumer.disconnect().catch(() => undefined);
      return;
    }
    // Stop fetching, commit what is stored, leave the group.
    consumer.pause([{ topic }]);
    clearTimeout(commitTimer);
    commitTimer = undefined;
    await commit();
    await consumer.disconnect();
  };
  return {
    stop: () => (stopping ??= stop()),
  };
}

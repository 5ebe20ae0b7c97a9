import type { Kafka, Logger, Pool, Registry } from '@conveyor/platform';
import type { Topology } from '@conveyor/jobs';
import { createEventsConsumerMetrics } from './events.metrics.js';
import { outcomeOf, parseJobEventMessage, type JobEventMessage, type Outcome } from './job-event.message.js';
import { findFinishedJobs, insertNotifications, type FinishedJob, type NewNotification } from './notifications.repo.js';
import { OffsetTracker } from './offset-tracker.js';
import { WebhookSender, type WebhookOptions } from './webhook.sender.js';

export interface JobEventsConsumerOptions {
  kafka: Kafka;
  pool: Pool;
  topology: Topology;
  logger: Logger;
  registry?: Registry;
  webhook: WebhookOptions;
  /** Base of `resultUrl` in webhook bodies (the public gateway URL); relative path when unset. */
  publicBaseUrl?: string;
  /** WEBHOOK_MAX_PENDING: above it the consumer pauses its partitions until deliveries settle. */
  maxPendingWebhooks?: number;
  /** A new consumer group starts at the beginning of the topic (tests); production joins at the end. */
  fromBeginning?: boolean;
  commitIntervalMs?: number;
  /**
   * How long the broker may hold a fetch to gather a batch of events. Notices and webhooks wait at
   * most this long; in exchange a quiet api fetches a few times a second instead of once per event.
   */
  fetchWaitMs?: number;
  /** How long stop() waits for deliveries in flight before leaving them to the next consumer. */
  drainMs?: number;
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

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/** Events handled by one pair of statements; a fetched batch can hold thousands. */
const MAX_BATCH = 500;

/** How long stop() waits for a start in progress (a broker that does not answer) before giving up on it. */
const START_WAIT_MS = 5_000;

/** About a hundred events. */
const EVENTS_FETCH_MIN_BYTES = 32 * 1024;

/**
 * Consumes jobs.events: on a job's terminal event, writes its owner's notification and fires its
 * callbackUrl webhook.
 *
 * Why webhooks leave the hot path this way (no extra table): a delivery runs in the background
 * while the consumer goes on writing notifications, and the partition's Kafka offset is committed
 * only up to the oldest message whose delivery has not settled (OffsetTracker). Kafka itself is
 * the durable queue: a crash redelivers from there, notifications are idempotent (UNIQUE(job_id,
 * kind)) and receivers deduplicate repeated webhooks by Conveyor-Event-Id (at-least-once, as any
 * webhook sender). The cost is a replay of the events behind a slow delivery after a crash, bounded
 * by maxPendingWebhooks and the sender's maxAgeMs, which a durable deliveries table would avoid.
 */
export async function startJobEventsConsumer(options: JobEventsConsumerOptions): Promise<{ stop(): Promise<void> }> {
  const { kafka, pool, topology, registry } = options;
  const topic = topology.topics.events;
  const logger = options.logger.child({ component: 'job-events-consumer', topic });
  const metrics = createEventsConsumerMetrics(registry);
  const sender = new WebhookSender(options.webhook, logger, metrics);
  const tracker = new OffsetTracker();
  const maxPending = options.maxPendingWebhooks ?? 1_000;
  const commitIntervalMs = options.commitIntervalMs ?? 1_000;
  const paused = new Set<number>();
  // Recently delivered events: the relay may publish an event twice; its receiver needs it once.
  const recentlyDelivered = new Set<string>();

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
    if (paused.size > 0 && sender.pending < maxPending / 2) {
      consumer.resume([...paused].map((p) => ({ topic, partitions: [p] })));
      paused.clear();
    }
  };

  const sendWebhook = (event: JobEventMessage, url: string, body: WebhookBody, partition: number, offset: string) => {
    void sender
      .deliver({ eventId: event.eventId, url, body: JSON.stringify(body) })
      .then((outcome) => {
        if (outcome === 'aborted') return; // stays uncommitted: redelivered after restart
        if (outcome === 'delivered') {
          recentlyDelivered.add(event.eventId);
          if (recentlyDelivered.size > 10_000) recentlyDelivered.delete(recentlyDelivered.values().next().value!);
        }
        settle(partition, offset);
      })
      .catch((error: unknown) => logger.error({ err: error, eventId: event.eventId }, 'webhook delivery crashed'));
  };

  /**
   * Handles one fetched batch of a partition: the jobs of its terminal events are read in one
   * query and their notices written in one. Each message is settled on its own: at once, or when
   * its webhook settles.
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
    const deliveries: Array<{ event: JobEventMessage; offset: string; job: FinishedJob; body: WebhookBody }> = [];
    for (const { event, outcome, offset } of terminal) {
      const job = jobs.get(event.jobId);
      if (!job) {
        logger.warn({ jobId: event.jobId, eventId: event.eventId }, 'terminal event for a job that no longer exists; skipped');
        continue;
      }
      const { message, body } = completionNotice(event, job, outcome, options.publicBaseUrl);
      notices.push({ tenant: job.tenant, owner: job.owner, jobId: job.id, kind: event.type, message });
      deliveries.push({ event, offset, job, body });
    }
    metrics.notificationsWritten.inc(await insertNotifications(pool, notices));
    const found = new Set(deliveries.map((d) => d.offset));
    for (const { offset } of terminal) if (!found.has(offset)) settle(partition, offset);
    for (const { event, offset, job, body } of deliveries) {
      if (!job.callbackUrl || recentlyDelivered.has(event.eventId)) {
        settle(partition, offset);
      } else if (!isHttpUrl(job.callbackUrl)) {
        metrics.webhooksFailed.inc({ reason: 'invalid_url' });
        logger.warn({ jobId: job.id }, 'callback URL is not http(s); webhook skipped');
        settle(partition, offset);
      } else {
        sendWebhook(event, job.callbackUrl, body, partition, offset);
      }
    }
  };

  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    tracker.retain(payload.memberAssignment[topic] ?? []);
    paused.clear();
  });
  const run = async () => {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: options.fromBeginning ?? false });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, pause }) => {
        for (let i = 0; i < batch.messages.length; i += MAX_BATCH) {
          await handleBatch(batch.partition, batch.messages.slice(i, i + MAX_BATCH));
        }
        if (sender.pending >= maxPending && !paused.has(batch.partition)) {
          logger.warn({ partition: batch.partition, pending: sender.pending }, 'too many webhooks in flight; pausing partition');
          paused.add(batch.partition);
          pause();
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
        const retryInMs = Math.min(30_000, 500 * 2 ** Math.min(attempt, 6));
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
      sender.close();
      clearTimeout(commitTimer);
      await consumer.disconnect().catch(() => undefined);
      return;
    }
    // Stop fetching, give deliveries in flight a moment, commit what is settled, leave the group.
    consumer.pause([{ topic }]);
    const deadline = Date.now() + (options.drainMs ?? 5_000);
    while (sender.pending > 0 && Date.now() < deadline) {
      await Promise.race([sender.nextSettled(), new Promise((r) => setTimeout(r, 100))]);
    }
    sender.close();
    clearTimeout(commitTimer);
    commitTimer = undefined;
    await commit();
    await consumer.disconnect();
  };
  return {
    stop: () => (stopping ??= stop()),
  };
}

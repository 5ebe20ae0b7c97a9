import { backoffDelay, endSpans, startPublishSpan, withBatchSend } from '@conveyor/platform';
import type { Kafka, Logger, Pool, PoolClient, Producer, Registry } from '@conveyor/platform';
import type { Topology } from '../topology.js';
import { startListener } from './outbox.listener.js';
import { eventMessage, jobMessage } from './outbox.messages.js';
import { outboxMetrics } from './outbox.metrics.js';
import { OUTBOX_CHANNEL } from './outbox.signal.js';
import { claimBatch, countBacklog, markPublished, splitClaim, type ClaimedRow } from './outbox.sql.js';

export interface OutboxRelayOptions {
  pool: Pool;
  kafka: Kafka;
  topology: Topology;
  logger: Logger;
  registry: Registry;
  /** Rows of each table claimed per transaction. */
  batchSize?: number;
  /** Safety-net poll for missed notifications (a listener reconnecting, a NOTIFY lost to a crash). */
  pollIntervalMs?: number;
  /**
   * LISTEN for new rows (default). A relay that backs up another one (the scheduler's) can skip it
   * and rely on its own wake() calls plus the poll, instead of racing the primary on every row.
   */
  listen?: boolean;
  /**
   * Runs after Kafka acknowledged a batch and before the transaction that marks it published
   * commits: the window in which a crash re-publishes the batch. Fault-injection tests stop the
   * process here.
   */
  afterProduce?: (batch: { jobs: number; events: number }) => Promise<void>;
}

export interface OutboxRelay {
  /** Drains now instead of waiting for a notification or the poll; resolves when the backlog is empty. */
  drain(): Promise<void>;
  /** Starts a drain soon (coalesced with any running one) without waiting for it. */
  wake(): void;
  stop(): Promise<void>;
}

const MAX_ERROR_BACKOFF_MS = 10_000;

/** How long stop() lets an in-flight batch finish before cutting it off. */
const STOP_WAIT_MS = 3_000;

/**
 * The send's own retries, a few seconds in all: claimed rows stay locked while Kafka is retried,
 * holding up a cancel of those jobs. Past this the batch rolls back, the rows are free, and the
 * relay's backoff (which holds no lock) retries.
 */
const SEND_RETRY = { retries: 5, initialRetryTime: 100, maxRetryTime: 1_000 };

/**
 * Publishes what the database says is unpublished, then marks it, in the same transaction that
 * locked the rows. A crash between the Kafka acknowledgement and the commit publishes the batch
 * again later: duplicates are possible, loss is not (the worker's claim makes duplicates harmless).
 */
export async function startOutboxRelay(options: OutboxRelayOptions): Promise<OutboxRelay> {
  const { pool, kafka, topology, registry, batchSize = 500, pollIntervalMs = 1_000, listen = true, afterProduce } = options;
  const logger = options.logger.child({ component: 'outbox-relay' });
  const metrics = outboxMetrics(registry, async () => {
    const { rows } = await pool.query<{ jobs: number; job_events: number }>(countBacklog());
    return rows[0]!;
  });
  const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, retry: SEND_RETRY });
  let connected: Promise<void> | undefined;
  producer.on(producer.events.DISCONNECT, () => {
    connected = undefined;
  });
  /** Connects once; a failed attempt is forgotten so the next round tries again. */
  const connect = (): Promise<void> =>
    (connected ??= producer.connect().catch((error: unknown) => {
      connected = undefined;
      throw error;
    }));

  let stopped = false;
  let running: Promise<void> | undefined;
  let activeClient: PoolClient | undefined;
  let rerun = false;
  let failures = 0;
  let retryTimer: NodeJS.Timeout | undefined;

  /** Inside the caller's transaction: claim, produce, mark. True when a full batch suggests more is waiting. */
  async function publishBatch(client: PoolClient): Promise<boolean> {
    const { jobs, events } = splitClaim((await client.query<ClaimedRow>(claimBatch(batchSize))).rows);
    if (jobs.length === 0 && events.length === 0) return false;
    // Each job's publish span continues the trace its row stored, not this background loop's.
    // A job of the overflow lane goes to its own topic, so a burst waiting in Kafka for the bridge
    // never sits in front of other tenants' jobs (docs/design.md, "Fairness between tenants").
    const topicOf = (row: (typeof jobs)[number]) => (row.overflow ? topology.topics.requestedOverflow : topology.topics.requested);
    const produced = jobs.map((row) =>
      startPublishSpan({
        system: 'kafka',
        destination: topicOf(row),
        messageId: row.id,
        parent: { traceparent: row.traceparent ?? undefined, requestId: row.request_id ?? undefined },
        attributes: { 'messaging.kafka.message.key': row.id, 'conveyor.job.type': row.type },
      }),
    );
    const topicMessages: Array<{ topic: string; messages: Array<ReturnType<typeof jobMessage>> }> = [];
    for (const topic of [topology.topics.requested, topology.topics.requestedOverflow]) {
      const messages = jobs.flatMap((row, i) => (topicOf(row) === topic ? [jobMessage(row, produced[i]!.carried)] : []));
      if (messages.length > 0) topicMessages.push({ topic, messages });
    }
    if (events.length > 0) topicMessages.push({ topic: topology.topics.events, messages: events.map(eventMessage) });
    try {
      const destination = jobs.length > 0 ? topology.topics.requested : topology.topics.events;
      await withBatchSend('kafka', destination, produced, () => producer.sendBatch({ topicMessages, acks: -1 }));
      endSpans(produced.map((p) => p.span));
    } catch (error) {
      endSpans(produced.map((p) => p.span), error);
      throw error;
    }
    await afterProduce?.({ jobs: jobs.length, events: events.length });
    await client.query(markPublished(jobs.map((j) => j.id), events.map((e) => e.id)));
    const overflowed = jobs.filter((j) => j.overflow).length;
    metrics.published.inc({ topic: topology.topics.requested }, jobs.length - overflowed);
    if (overflowed > 0) metrics.published.inc({ topic: topology.topics.requestedOverflow }, overflowed);
    metrics.published.inc({ topic: topology.topics.events }, events.length);
    // Full in either lane (each is claimed up to batchSize) or in events: more is waiting.
    return overflowed === batchSize || jobs.length - overflowed === batchSize || events.length === batchSize;
  }

  async function drainOnce(): Promise<boolean> {
    // Before any row is claimed: a Kafka that cannot be reached holds no lock while it is retried.
    await connect();
    const client = await pool.connect();
    activeClient = client;
    const timer = metrics.batchDuration.startTimer();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const more = await publishBatch(client);
      await client.query('COMMIT');
      timer();
      return more;
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => {
        broken = rollbackError;
      });
      throw error;
    } finally {
      // A connection that could not even roll back is destroyed rather than reused; one that
      // stop() already cut off must not be released twice.
      if (activeClient === client) {
        activeClient = undefined;
        client.release(broken);
      }
    }
  }

  async function drainAll(): Promise<void> {
    do {
      rerun = false;
      while (!stopped && (await drainOnce()));
    } while (rerun && !stopped);
  }

  /** Coalesces wake-ups: one drain at a time, and at most one more queued behind it. */
  function wake(): Promise<void> {
    if (stopped) return Promise.resolve();
    if (running) {
      rerun = true;
      return running;
    }
    if (retryTimer) return Promise.resolve();
    running = drainAll()
      .then(
        () => {
          failures = 0;
        },
        (error: unknown) => {
          failures += 1;
          metrics.errors.inc();
          const delay = backoffDelay(failures + 1, { baseMs: 100, maxMs: MAX_ERROR_BACKOFF_MS, jitter: 'equal' });
          logger.error({ err: error, failures, retryInMs: delay }, 'outbox drain failed; rows stay unpublished');
          retryTimer = setTimeout(() => {
            retryTimer = undefined;
            void wake();
          }, delay);
        },
      )
      .finally(() => {
        running = undefined;
      });
    return running;
  }

  const listener = listen ? startListener({ pool, channel: OUTBOX_CHANNEL, logger, onWake: () => void wake() }) : undefined;
  const poll = setInterval(() => void wake(), pollIntervalMs);
  if (!listen) void wake();
  logger.info({ batchSize, pollIntervalMs, listen }, 'outbox relay started');

  let stopping: Promise<void> | undefined;
  return {
    drain: async () => {
      await wake();
      while (running) await running;
    },
    wake: () => void wake(),
    stop: () =>
      (stopping ??= (async () => {
        stopped = true;
        clearInterval(poll);
        clearTimeout(retryTimer);
        await listener?.stop();
        // A send stuck in Kafka retries (broker down, topic missing) must not outlast the drain:
        // disconnecting fails it, its transaction rolls back and the rows stay for the next relay.
        await Promise.race([running, new Promise((resolve) => setTimeout(resolve, STOP_WAIT_MS).unref())]);
        const stuck = activeClient;
        if (stuck) {
          // Closing the connection aborts the batch's transaction in Postgres; its rows stay unpublished.
          activeClient = undefined;
          stuck.release(new Error('outbox relay stopping'));
        }
        await producer.disconnect().catch(() => undefined);
        logger.info('outbox relay stopped');
      })()),
  };
}

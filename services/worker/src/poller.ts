import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from '@conveyor/platform';
import type { WorkerMetrics } from './metrics.js';
import type { JobQueuePort, Message } from './queue.consumer.js';

export interface PollerOptions {
  concurrency: number;
  waitSeconds: number;
  /** How long stop() waits for running handlers before handing the rest back. */
  drainMs: number;
  /** Pause after a failed receive, so an SQS outage is not hammered. */
  errorPauseMs?: number;
}

export interface PollerDeps {
  queue: JobQueuePort;
  /** Handles one message; `release` fires when the drain period is over. */
  handle: (message: Message, release: AbortSignal) => Promise<void>;
  metrics: WorkerMetrics;
  logger: Logger;
}

/**
 * Long polling into a bounded set of running handlers: it never asks SQS for more messages than it
 * has free slots, so a received message starts at once and none wait invisibly in memory.
 */
export class Poller {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly receiving = new AbortController();
  private readonly release = new AbortController();
  private loop: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly deps: PollerDeps,
    private readonly options: PollerOptions,
  ) {}

  get running(): number {
    return this.inFlight.size;
  }

  start(): void {
    this.loop ??= this.poll();
  }

  /** Stops receiving, waits up to drainMs for running handlers, then makes the rest hand their jobs back. */
  stop(): Promise<void> {
    this.stopping ??= this.drain();
    return this.stopping;
  }

  private async poll(): Promise<void> {
    const { queue, metrics, logger } = this.deps;
    const signal = this.receiving.signal;
    while (!signal.aborted) {
      const free = this.options.concurrency - this.inFlight.size;
      if (free <= 0) {
        await Promise.race(this.inFlight);
        continue;
      }
      let messages: Message[];
      try {
        messages = await queue.receive(Math.min(10, free), this.options.waitSeconds, signal);
      } catch (error) {
        if (signal.aborted) break;
        metrics.errors.inc({ operation: 'receive' });
        logger.warn({ err: error }, 'receiving from SQS failed; retrying');
        await delay(this.options.errorPauseMs ?? 1_000, undefined, { signal }).catch(() => undefined);
        continue;
      }
      for (const message of messages) this.track(message);
    }
  }

  private track(message: Message): void {
    const { metrics, logger } = this.deps;
    metrics.inFlight.inc();
    const task: Promise<void> = this.deps
      .handle(message, this.release.signal)
      .catch((error: unknown) => {
        // The message stays on the queue and comes back after its visibility timeout.
        metrics.errors.inc({ operation: 'handle message' });
        logger.error({ err: error, messageId: message.MessageId }, 'could not handle message; it will be redelivered');
      })
      .finally(() => {
        this.inFlight.delete(task);
        metrics.inFlight.dec();
      });
    this.inFlight.add(task);
  }

  private async drain(): Promise<void> {
    const { logger } = this.deps;
    this.receiving.abort();
    await this.loop;
    if (this.inFlight.size === 0) return;
    logger.info({ running: this.inFlight.size, drainMs: this.options.drainMs }, 'waiting for running jobs to finish');
    const timer = new AbortController();
    const finished = await Promise.race([
      Promise.allSettled([...this.inFlight]).then(() => true),
      delay(this.options.drainMs, false, { signal: timer.signal }).catch(() => false),
    ]);
    timer.abort();
    if (finished) return;
    logger.warn({ running: this.inFlight.size }, 'drain period over: returning unfinished jobs to the queue');
    this.release.abort();
    await Promise.allSettled([...this.inFlight]);
  }
}

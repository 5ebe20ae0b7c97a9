import { setTimeout as delay } from 'node:timers/promises';
import { fromMessageAttributes, type Logger } from '@conveyor/platform';
import type { WorkerMetrics } from './metrics.js';
import type { PoolPause } from './pool-pause.js';
import type { JobQueuePort, Message } from './queue.consumer.js';

export interface PollerOptions {
  concurrency: number;
  waitSeconds: number;
  /** How long stop() waits for running handlers before handing the rest back. */
  drainMs: number;
  /** Pause after a failed receive, so an SQS outage is not hammered. */
  errorPauseMs?: number;
  /**
   * Longest a message received ahead of its run time is held for it; one due later starts at once
   * and its claim sends it back until it is due. Keep it well under the visibility timeout.
   */
  maxHoldMs: number;
  /** Most messages held at once (0: none); at the limit the poller stops receiving until some fall due. */
  maxHeld: number;
}

/** How long a message asks to wait before it starts: its run_at attribute minus now, if ahead. */
export function holdFor(message: Message, now: number, maxHoldMs: number): number {
  const runAt = fromMessageAttributes(message.MessageAttributes).runAt;
  // +2 ms: a Node timer may fire a millisecond early, and the claim would then find the job not due.
  const wait = runAt ? Date.parse(runAt) - now + 2 : Number.NaN;
  return wait > 0 && wait <= maxHoldMs ? wait : 0;
}

export interface PollerDeps {
  queue: JobQueuePort;
  /** Handles one message; `release` fires when the drain period is over. */
  handle: (message: Message, release: AbortSignal) => Promise<void>;
  metrics: WorkerMetrics;
  logger: Logger;
  /** While the pool is paused the poller receives nothing, and hands back what it holds. */
  pause?: PoolPause;
}

/**
 * Long polling into a bounded set of running handlers: it never asks SQS for more messages than it
 * has free slots, so a received message starts at once and none wait invisibly in memory. The
 * exception is a delayed job dispatched ahead of its run time: it is held, without a slot, until
 * then, and takes the next free slot ahead of new receives (a receive that returns while such jobs
 * took its slots leaves its messages next in line).
 *
 * While the pool is paused it does not receive; a receive already waiting when the pause came
 * hands its messages back at once (visible again, unstarted), and so are the held ones.
 */
export class Poller {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly held = new Map<Message, NodeJS.Timeout>();
  /** Held messages whose time came while every slot was taken. */
  private readonly due: Message[] = [];
  /** When the last long poll ends on the server's side, even if we stopped waiting for it. */
  private receiveEndsAt = 0;
  private changed: { promise: Promise<void>; resolve: () => void } | undefined;
  private readonly receiving = new AbortController();
  private readonly release = new AbortController();
  private loop: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly deps: PollerDeps,
    private readonly options: PollerOptions,
  ) {
    deps.pause?.onChange((paused) => {
      if (paused) void this.returnHeld().then(() => this.returnLate());
      this.notifyChange();
    });
  }

  private get paused(): boolean {
    return this.deps.pause?.paused ?? false;
  }

  private get holding(): boolean {
    return this.options.maxHeld > 0;
  }

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
    signal.addEventListener('abort', () => this.notifyChange(), { once: true });
    while (!signal.aborted) {
      this.startDue();
      const free = this.options.concurrency - this.inFlight.size - this.due.length;
      if (this.paused || free <= 0 || (this.holding && this.held.size + this.due.length >= this.options.maxHeld)) {
        await this.nextChange();
        continue;
      }
      let messages: Message[];
      this.receiveEndsAt = Date.now() + this.options.waitSeconds * 1000;
      try {
        messages = await queue.receive(Math.min(10, free), this.options.waitSeconds, signal);
      } catch (error) {
        if (signal.aborted) break;
        metrics.errors.inc({ operation: 'receive' });
        logger.warn({ err: error }, 'receiving from SQS failed; retrying');
        await delay(this.options.errorPauseMs ?? 1_000, undefined, { signal }).catch(() => undefined);
        continue;
      }
      if (this.paused) {
        // Received by a long poll that began before the pause: not started, so not claimed.
        await this.handBack(messages, 'the pool was paused while they were received');
        continue;
      }
      const now = Date.now();
      for (const message of messages) {
        const wait = this.holding ? holdFor(message, now, this.options.maxHoldMs) : 0;
        if (wait > 0) this.hold(message, wait);
        // Held messages that fell due during the receive may have taken its slots: this one is next.
        else if (this.inFlight.size >= this.options.concurrency) this.due.push(message);
        else this.track(message);
      }
    }
  }

  private hold(message: Message, ms: number): void {
    this.deps.metrics.held.inc();
    const timer = setTimeout(() => {
      this.held.delete(message);
      this.deps.metrics.held.dec();
      this.due.push(message);
      this.startDue();
    }, ms);
    this.held.set(message, timer);
  }

  /** Starts due messages in free slots. */
  private startDue(): void {
    // Until the drain period is over, held messages that fall due still run here.
    while (!this.release.signal.aborted && this.due.length > 0 && this.inFlight.size < this.options.concurrency) this.track(this.due.shift()!);
    this.notifyChange();
  }

  private nextChange(): Promise<void> {
    if (!this.changed) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.changed = { promise, resolve };
    }
    return this.changed.promise;
  }

  private notifyChange(): void {
    this.changed?.resolve();
    this.changed = undefined;
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
        this.startDue();
      });
    this.inFlight.add(task);
  }

  /** Held and due messages, and those received but not yet handed out, go back to the queue at once, for another worker to take. */
  private async returnHeld(): Promise<void> {
    const messages = [...this.held.keys(), ...this.due.splice(0), ...(this.deps.queue.takeBuffered?.() ?? [])];
    for (const timer of this.held.values()) clearTimeout(timer);
    this.deps.metrics.held.dec(this.held.size);
    this.held.clear();
    this.notifyChange();
    await this.handBack(messages, 'they were held for their run time');
  }

  /**
   * What the other class queues' open long polls bring after a pause came (class-receiver.ts) goes
   * back too, rather than wait in memory, invisible, until the resume.
   */
  private async returnLate(): Promise<void> {
    const late = await this.deps.queue.settleBuffered?.();
    if (late?.length) await this.handBack(late, 'they were received while the pool was paused');
  }

  /** Makes unstarted messages visible again at once. */
  private async handBack(messages: Message[], why: string): Promise<void> {
    const { queue, metrics, logger } = this.deps;
    if (messages.length === 0) return;
    logger.info({ messages: messages.length, why }, 'returning unstarted messages to the queue');
    await Promise.all(
      messages.map((message) =>
        queue.setVisibility(message, 0).catch((error: unknown) => {
          // It comes back after its visibility timeout instead.
          metrics.errors.inc({ operation: 'return unstarted message' });
          logger.warn({ err: error, messageId: message.MessageId }, 'could not return an unstarted message');
        }),
      ),
    );
  }

  private async drain(): Promise<void> {
    const { logger } = this.deps;
    const deadline = Date.now() + this.options.drainMs;
    this.receiving.abort();
    await this.loop;
    // The class queues' long polls end with the abort (class-receiver.ts); what they had brought
    // in and not handed out goes back.
    const brought = this.deps.queue.settleBuffered?.();
    if (brought) {
      const late = await Promise.race([brought, delay(Math.max(0, deadline - Date.now()), [] as Message[])]);
      await this.handBack(late, 'they were received while the worker stopped');
    }
    if (this.held.size + this.due.length > 0) {
      // The aborted receive may still be waiting on the server, and would swallow (for a whole
      // visibility timeout) a message returned before its long poll ends.
      await delay(Math.max(0, Math.min(deadline, this.receiveEndsAt + 100) - Date.now()));
      await this.returnHeld();
    }
    if (this.inFlight.size === 0) return;
    logger.info({ running: this.inFlight.size, drainMs: this.options.drainMs }, 'waiting for running jobs to finish');
    const timer = new AbortController();
    const finished = await Promise.race([
      Promise.allSettled([...this.inFlight]).then(() => true),
      delay(Math.max(0, deadline - Date.now()), false, { signal: timer.signal }).catch(() => false),
    ]);
    timer.abort();
    if (finished) return;
    logger.warn({ running: this.inFlight.size }, 'drain period over: returning unfinished jobs to the queue');
    this.release.abort();
    await Promise.allSettled([...this.inFlight]);
  }
}

import { OUTBOX_CHANNEL, OUTBOX_EVENTS_PAYLOAD, startListener } from '@conveyor/jobs';
import type { Logger, Pool } from '@conveyor/platform';

export interface OutboxListenerOptions {
  pool: Pool;
  logger: Logger;
  /** Wakes every subscriber this often even without a notification: NOTIFY is lost while disconnected. */
  safetyPollMs: number;
}

/**
 * One LISTEN connection for the whole process, fanned out to subscribers: N open SSE streams cost
 * one Postgres connection, not N, and nobody polls in a tight loop. Every process that writes job
 * events announces them (outbox.signal.ts); only that payload wakes the streams. Connects lazily on
 * first subscriber; the connection itself (reconnects with backoff) is @conveyor/jobs' listener.
 */
export class OutboxListener {
  private readonly subscribers = new Set<() => void>();
  private listener: { stop(): Promise<void> } | undefined;
  private poll: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: OutboxListenerOptions) {}

  /** Calls `wake` whenever job events were announced (and on the safety poll); returns the unsubscribe. */
  subscribe(wake: () => void): () => void {
    this.subscribers.add(wake);
    this.ensureStarted();
    return () => {
      this.subscribers.delete(wake);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.poll);
    this.subscribers.clear();
    await this.listener?.stop();
  }

  private ensureStarted(): void {
    if (this.closed) return;
    this.poll ??= setInterval(() => this.wakeAll(), this.options.safetyPollMs).unref();
    this.listener ??= startListener({
      pool: this.options.pool,
      channel: OUTBOX_CHANNEL,
      logger: this.options.logger,
      // A wake without a payload follows a (re)connect: events written meanwhile were not announced.
      onWake: (payload) => {
        if (payload === undefined || payload === OUTBOX_EVENTS_PAYLOAD) this.wakeAll();
      },
    });
  }

  private wakeAll(): void {
    for (const wake of this.subscribers) {
      try {
        wake();
      } catch (error) {
        this.options.logger.error({ err: error }, 'job events subscriber failed');
      }
    }
  }
}

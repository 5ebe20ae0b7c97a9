import { OUTBOX_CHANNEL, OUTBOX_EVENTS_PAYLOAD } from '@conveyor/jobs';
import type { Logger, Pool, PoolClient } from '@conveyor/platform';

export interface OutboxListenerOptions {
  pool: Pool;
  logger: Logger;
  /** Wakes every subscriber this often even without a notification: NOTIFY is lost while disconnected. */
  safetyPollMs: number;
  reconnectDelayMs?: number;
}

/**
 * One LISTEN connection for the whole process, fanned out to subscribers: N open SSE streams cost
 * one Postgres connection, not N, and nobody polls in a tight loop. Every process that writes job
 * events announces them (outbox.signal.ts); only that payload wakes the streams. Connects lazily on
 * first subscriber.
 */
export class OutboxListener {
  private readonly subscribers = new Set<() => void>();
  private client: PoolClient | undefined;
  private connecting: Promise<void> | undefined;
  private poll: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
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

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.poll);
    clearTimeout(this.retry);
    this.subscribers.clear();
    await this.connecting?.catch(() => undefined);
    const client = this.client;
    this.client = undefined;
    if (client) {
      await client.query(`UNLISTEN ${OUTBOX_CHANNEL}`).catch(() => undefined);
      client.release();
    }
  }

  private ensureStarted(): void {
    if (this.closed) return;
    this.poll ??= setInterval(() => this.wakeAll(), this.options.safetyPollMs).unref();
    if (!this.client && !this.connecting && !this.retry) this.connecting = this.connect().finally(() => (this.connecting = undefined));
  }

  private async connect(): Promise<void> {
    let client: PoolClient | undefined;
    try {
      client = await this.options.pool.connect();
      client.on('notification', (message) => {
        if (message.channel === OUTBOX_CHANNEL && message.payload === OUTBOX_EVENTS_PAYLOAD) this.wakeAll();
      });
      client.on('error', (error) => this.lost(error));
      await client.query(`LISTEN ${OUTBOX_CHANNEL}`);
      if (this.closed) {
        client.release();
        return;
      }
      this.client = client;
      // Anything inserted while we were not listening was missed: let everyone catch up now.
      this.wakeAll();
    } catch (error) {
      client?.release(true);
      this.scheduleReconnect(error);
    }
  }

  private lost(error: unknown): void {
    const client = this.client;
    this.client = undefined;
    // Destroy rather than return a broken connection to the pool.
    client?.release(error instanceof Error ? error : true);
    this.scheduleReconnect(error);
  }

  private scheduleReconnect(error: unknown): void {
    if (this.closed) return;
    this.options.logger.warn({ err: error }, 'LISTEN connection for job events lost; streams fall back to the safety poll');
    this.retry ??= setTimeout(() => {
      this.retry = undefined;
      if (this.subscribers.size > 0) this.ensureStarted();
    }, this.options.reconnectDelayMs ?? 1_000).unref();
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

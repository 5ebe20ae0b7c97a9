import { backoffDelay } from '@conveyor/platform';
import type { Logger, Pool, PoolClient } from '@conveyor/platform';

export interface ListenerOptions {
  pool: Pool;
  channel: string;
  logger: Logger;
  /**
   * Called with the payload of every notification, and without one after every (re)connect, since
   * notifications may have been missed.
   */
  onWake: (payload?: string) => void;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

/**
 * Holds one pooled connection in LISTEN on one channel; a lost connection is replaced with
 * exponential backoff and jitter. Notifications are only a hint: every listener has a fallback
 * (the relay's poll, a worker's heartbeat) for when this one is down.
 */
export function startListener({ pool, channel, logger, onWake, initialBackoffMs = 200, maxBackoffMs = 10_000 }: ListenerOptions) {
  let client: PoolClient | undefined;
  let stopped = false;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;

  const onNotification = (message: { channel: string; payload?: string }) => {
    if (message.channel === channel) onWake(message.payload);
  };

  const drop = (error?: unknown) => {
    const lost = client;
    client = undefined;
    if (lost) {
      lost.removeListener('notification', onNotification);
      // Passing the error destroys the connection instead of returning it to the pool.
      lost.release(error instanceof Error ? error : true);
    }
  };

  const schedule = () => {
    if (stopped) return;
    failures += 1;
    const delay = backoffDelay(failures, { baseMs: initialBackoffMs, maxMs: maxBackoffMs, jitter: 'equal' });
    timer = setTimeout(() => void connect(), delay);
  };

  const connect = async () => {
    if (stopped) return;
    let next: PoolClient | undefined;
    try {
      next = await pool.connect();
      next.on('error', (error) => {
        if (client !== next) return;
        logger.warn({ err: error, channel }, 'listener lost its connection; reconnecting');
        drop(error);
        schedule();
      });
      next.on('notification', onNotification);
      await next.query(`LISTEN ${channel}`);
      if (stopped) {
        next.release(true);
        return;
      }
      client = next;
      failures = 0;
      onWake();
    } catch (error) {
      logger.warn({ err: error, channel, failures }, 'listener could not connect; retrying');
      next?.release(true);
      schedule();
    }
  };

  void connect();

  return {
    async stop(): Promise<void> {
      stopped = true;
      clearTimeout(timer);
      drop();
    },
  };
}

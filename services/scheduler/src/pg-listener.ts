import pg from 'pg';
import type { Logger } from '@conveyor/platform';

export interface PgListener {
  stop(): Promise<void>;
}

export interface ListenOptions {
  connectionString: string;
  channel: string;
  logger: Logger;
  onNotify: (payload: string | undefined) => void;
  /** Called after every (re)connection: notifications sent while disconnected are lost. */
  onConnect?: () => void;
  maxBackoffMs?: number;
}

/**
 * LISTEN on a dedicated connection (a pooled one would be returned and lose the subscription),
 * reconnecting with capped exponential backoff when Postgres goes away.
 */
export async function listen(options: ListenOptions): Promise<PgListener> {
  const { connectionString, channel, logger, onNotify, onConnect, maxBackoffMs = 10_000 } = options;
  let client: pg.Client | undefined;
  let stopped = false;
  let attempt = 0;
  let retry: NodeJS.Timeout | undefined;

  const connect = async (): Promise<void> => {
    const c = new pg.Client({ connectionString, application_name: `scheduler-listen-${channel}` });
    c.on('notification', (msg) => {
      if (msg.channel === channel) onNotify(msg.payload);
    });
    c.on('error', (err) => {
      logger.warn({ err, channel }, 'listen connection lost; reconnecting');
      void c.end().catch(() => undefined);
      if (client === c) scheduleReconnect();
    });
    await c.connect();
    await c.query(`LISTEN "${channel.replaceAll('"', '""')}"`);
    client = c;
    attempt = 0;
    onConnect?.();
  };

  const scheduleReconnect = (): void => {
    client = undefined;
    if (stopped || retry) return;
    const delay = Math.min(maxBackoffMs, 100 * 2 ** attempt++) * (0.5 + Math.random() / 2);
    retry = setTimeout(() => {
      retry = undefined;
      connect().catch((err: unknown) => {
        logger.warn({ err, channel }, 'listen reconnect failed');
        scheduleReconnect();
      });
    }, delay);
  };

  // Postgres being down at start is not fatal: readiness reports it, and this keeps trying.
  await connect().catch((err: unknown) => {
    logger.warn({ err, channel }, 'listen connection failed; retrying');
    scheduleReconnect();
  });
  return {
    stop: async () => {
      stopped = true;
      if (retry) clearTimeout(retry);
      await client?.end().catch(() => undefined);
      client = undefined;
    },
  };
}

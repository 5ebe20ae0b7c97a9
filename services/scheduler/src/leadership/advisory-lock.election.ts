import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Logger } from '@conveyor/platform';
import { everyRetryPeriod, type Election, type LeadershipCallbacks } from './leadership.js';

export interface AdvisoryLockElectionOptions {
  connectionString: string;
  /** Replicas that share this name (and database) elect one leader. */
  lockName: string;
  identity: string;
  /** How often a standby tries the lock and the leader checks its connection. */
  retryPeriodMs: number;
  /** A check the lock connection does not answer within this ends leadership. */
  checkTimeoutMs: number;
  /** Postgres ends the session of a leader that vanished without closing it after about this long. */
  deadSessionSeconds: number;
  logger: Logger;
  callbacks: LeadershipCallbacks;
}

/** A stable signed 64-bit key from the lock's name: every replica computes the same. */
export function advisoryLockKey(name: string): string {
  return createHash('sha256').update(`conveyor:leader:${name}`).digest().readBigInt64BE(0).toString();
}

/** Server-side TCP keepalives for the lock session, so Postgres notices a vanished leader in ~`seconds`. */
export function keepaliveSettings(seconds: number): { idle: number; interval: number; count: number } {
  const step = Math.max(1, Math.floor(seconds / 3));
  return { idle: step, interval: step, count: 2 };
}

/**
 * Leader election without Kubernetes: a session-level advisory lock (`pg_try_advisory_lock`) held
 * on a connection of its own. Postgres keeps the lock exactly as long as the session lives, so
 * losing the connection means losing leadership: the moment the client sees its connection fail
 * or end, or a check on it go unanswered within the deadline, it stops leading and drops the
 * connection; only then can the session end and a standby's next try succeed. A leader killed
 * outright closes its socket, Postgres ends its session and frees the lock at once; one cut off
 * by the network is ended by the keepalives set on the session.
 */
export function startAdvisoryLockElection(options: AdvisoryLockElectionOptions): Election {
  const { connectionString, identity, retryPeriodMs, checkTimeoutMs, callbacks } = options;
  const key = advisoryLockKey(options.lockName);
  const logger = options.logger.child({ component: 'leader-election', lock: options.lockName, identity });
  const keepalive = keepaliveSettings(options.deadSessionSeconds);
  let client: pg.Client | undefined;
  let leading = false;
  /** A replica that just lost its connection waits this long before trying again: a healthy standby goes first. */
  let holdOffUntil = 0;

  /** The connection is gone or cannot be trusted: leadership ends now, whatever else is in flight. */
  const lose = (lost: pg.Client, reason: string, error?: unknown): void => {
    if (client !== lost) return;
    client = undefined;
    void lost.end().catch(() => undefined);
    if (leading) {
      leading = false;
      holdOffUntil = Date.now() + 2 * retryPeriodMs;
      logger.warn({ err: error, reason }, 'stopped leading');
      void callbacks.onStoppedLeading();
    } else {
      logger.debug({ err: error, reason }, 'lock connection lost');
    }
  };

  const connect = async (): Promise<pg.Client> => {
    const c = new pg.Client({ connectionString, application_name: `scheduler-leader ${identity}`.slice(0, 63), keepAlive: true });
    c.on('error', (error) => lose(c, 'lock connection failed', error));
    c.on('end', () => lose(c, 'lock connection ended'));
    client = c;
    try {
      await c.connect();
      await c.query(
        `SELECT set_config('tcp_keepalives_idle', $1, false), set_config('tcp_keepalives_interval', $2, false), set_config('tcp_keepalives_count', $3, false)`,
        [String(keepalive.idle), String(keepalive.interval), String(keepalive.count)],
      );
    } catch (error) {
      lose(c, 'could not open the lock connection', error);
      throw error;
    }
    return c;
  };

  const check = async (c: pg.Client): Promise<void> => {
    let timeout: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        c.query('SELECT 1'),
        new Promise((_, reject) => {
          timeout = setTimeout(() => reject(new Error(`no answer within ${checkTimeoutMs} ms`)), checkTimeoutMs);
        }),
      ]);
    } catch (error) {
      lose(c, 'the lock connection did not answer its check', error);
    } finally {
      clearTimeout(timeout);
    }
  };

  const runRound = async (): Promise<void> => {
    if (!leading && Date.now() < holdOffUntil) return;
    try {
      const c = client ?? (await connect());
      if (leading) return await check(c);
      const { rows } = await c.query<{ acquired: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS acquired', [key]);
      if (rows[0]?.acquired && client === c && !rounds.stopped()) {
        leading = true;
        logger.info('became leader');
        callbacks.onNewLeader?.(identity);
        callbacks.onStartedLeading();
      }
    } catch (error) {
      logger.warn({ err: error }, 'could not try the leader lock; retrying');
    }
  };

  const rounds = everyRetryPeriod(runRound, retryPeriodMs, () => leading);

  let stopping: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    await rounds.stop();
    if (leading) {
      leading = false;
      logger.info('stopping: ending leader-only work before releasing the lock');
      await callbacks.onStoppedLeading();
    }
    const c = client;
    client = undefined;
    // Ending the session releases the lock; a standby takes it at its next try.
    await c?.end().catch(() => undefined);
  };
  return {
    identity,
    isLeader: () => leading,
    stop: () => (stopping ??= stop()),
  };
}

import type { Logger, Pool } from '@conveyor/platform';
import type { Queryable } from '../store/create.js';

/** The channel relays and event streams LISTEN on, and the payload that says job events were written. */
export const OUTBOX_CHANNEL = 'conveyor_outbox';
export const OUTBOX_EVENTS_PAYLOAD = 'job_events';
/**
 * The scheduler's dispatchers LISTEN here: a job now waits for a run time (a delayed job, by the
 * trigger of migration 0004; a failed attempt's retry, by due()), which may be earlier than the
 * one their timer is armed for.
 */
export const SCHEDULED_CHANNEL = 'conveyor_scheduled';
/** Workers LISTEN here; the payload is the id of a job whose cancellation was requested while it ran. */
export const CANCEL_CHANNEL = 'conveyor_cancel';

/**
 * Runs `send` at most once per `intervalMs`: the first call at once, calls during the interval
 * (or while a send is in flight) folded into one more at its end. Never two sends at a time.
 */
export function throttle(send: () => Promise<void>, intervalMs: number, now: () => number = Date.now) {
  let lastStart = -Infinity;
  let pending = false;
  let inFlight = false;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const run = () => {
    timer = undefined;
    if (stopped || !pending || inFlight) return;
    pending = false;
    inFlight = true;
    lastStart = now();
    void send().finally(() => {
      inFlight = false;
      if (pending) schedule();
    });
  };
  const schedule = () => {
    if (stopped || timer || inFlight) return;
    const wait = lastStart + intervalMs - now();
    if (wait <= 0) run();
    else timer = setTimeout(run, wait);
  };
  return {
    call(): void {
      pending = true;
      schedule();
    },
    stop(): void {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

export interface OutboxSignalOptions {
  pool: Pool;
  logger: Logger;
  /** This process's own relay, woken at once (no round trip through Postgres). */
  local?: () => void;
  /** Fewest milliseconds between two NOTIFYs of this process. */
  intervalMs?: number;
}

export interface OutboxSignal {
  /** Job or job_events rows were committed: wake the relays and the event streams. */
  written(): void;
  /** The same database, calling written() after every statement that succeeded. */
  track(db: Queryable): Queryable;
  /** A job was committed as waiting for a run time (a retry): wake the scheduler's dispatchers. */
  due(): void;
  /**
   * One NOTIFY on `channel` with `payload`, now, unthrottled: for a signal naming one job (a
   * cancellation). Call it after the commit it announces. A failure is logged, not thrown: every
   * listener has a slower fallback.
   */
  notify(channel: string, payload: string): Promise<void>;
  stop(): void;
}

/**
 * Announces committed writes to the processes that act on them: outbox rows to the relays and event
 * streams, due jobs to the dispatchers, cancellations to the workers. The NOTIFY used to be sent by a trigger inside every writing
 * transaction, and Postgres holds one database-wide lock from a notifying commit's pre-commit to its
 * end, WAL flush included, so the api's inserts and the workers' claims and completions committed
 * one at a time; each notifying commit also woke every listening backend. Sent after the commit,
 * from a statement that writes nothing, the lock is held for microseconds; throttled, a busy process
 * sends a few dozen a second instead of one per commit. Missing one costs only latency: relays and
 * event streams also poll.
 */
export function createOutboxSignal({ pool, logger, local, intervalMs = 25 }: OutboxSignalOptions): OutboxSignal {
  const notify = async (channel: string, payload: string) => {
    try {
      await pool.query({ name: 'outbox.notify', text: 'SELECT pg_notify($1, $2)', values: [channel, payload] });
    } catch (error) {
      logger.warn({ err: error, channel }, 'could not announce a committed change; its listeners find it on their next poll or heartbeat');
    }
  };
  const rows = throttle(() => notify(OUTBOX_CHANNEL, OUTBOX_EVENTS_PAYLOAD), intervalMs);
  const due = throttle(() => notify(SCHEDULED_CHANNEL, ''), intervalMs);
  const written = () => {
    local?.();
    rows.call();
  };
  return {
    written,
    due: () => due.call(),
    notify,
    track: (db) => {
      const query = db.query.bind(db) as (...args: unknown[]) => Promise<unknown>;
      const tracked = (...args: unknown[]) =>
        query(...args).then((result) => {
          written();
          return result;
        });
      // pg's overloads (streams, callbacks) are not used through a Queryable; promises are.
      return { query: tracked as unknown as Queryable['query'] };
    },
    stop: () => {
      rows.stop();
      due.stop();
    },
  };
}

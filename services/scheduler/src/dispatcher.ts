import type { Logger } from '@conveyor/platform';
import type { DispatchRound, DuePeek } from './due-jobs.repo.js';

export interface DispatcherOptions {
  /** Claims what is due and reports the next due time. */
  claim: () => Promise<DispatchRound>;
  /** Reads the next due time without writing (writes would notify, and wake us again). */
  peek: () => Promise<DuePeek>;
  batchSize: number;
  /** Longest sleep even when nothing is known to be due (a lost notification, a rolled-back claim). */
  safetyIntervalMs: number;
  /** Notifications within this window share one peek. */
  coalesceMs?: number;
  logger: Logger;
  onDispatched?: (round: DispatchRound) => void;
  onError?: (error: unknown) => void;
  now?: () => number;
}

export interface Dispatcher {
  /** Something may now be due earlier than the armed timer (a job was inserted): look again. */
  notify(): void;
  stop(): Promise<void>;
}

const ERROR_BACKOFF_MS = 1_000;
type Pending = 'none' | 'peek' | 'claim';

/**
 * The delayed-job loop: one timer armed at the next due run_at; notifications trigger a read-only
 * peek that re-arms it when an earlier job arrived; a safety interval bounds every sleep. Rounds
 * never overlap, and requests arriving during a round coalesce into one more round.
 */
export function startDispatcher(options: DispatcherOptions): Dispatcher {
  const { claim, peek, batchSize, safetyIntervalMs, logger, onDispatched, onError, now = Date.now } = options;
  const coalesceMs = options.coalesceMs ?? 5;
  let timer: NodeJS.Timeout | undefined;
  let peekTimer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let pending: Pending = 'none';
  let stopped = false;

  // Relative to the database clock, which decides due-ness; +1 ms because a timer landing exactly
  // on run_at could meet `run_at <= now()` a microsecond too soon and find nothing.
  const delayUntil = (next: Date | null, dbNow: Date, sentAt: number): number =>
    next ? next.getTime() - dbNow.getTime() - (now() - sentAt) + 1 : safetyIntervalMs;

  const round = async (mode: Exclude<Pending, 'none'>): Promise<number> => {
    const sentAt = now();
    if (mode === 'peek') {
      const p = await peek();
      if (!p.next || p.next.getTime() > p.dbNow.getTime()) return delayUntil(p.next, p.dbNow, sentAt);
    }
    const result = await claim();
    if (result.dispatched.length > 0) onDispatched?.(result);
    if (result.dispatched.length >= batchSize) request('claim');
    return delayUntil(result.next, result.dbNow, sentAt);
  };

  const loop = async (): Promise<void> => {
    let delay = safetyIntervalMs;
    while (pending !== 'none' && !stopped) {
      const mode = pending;
      pending = 'none';
      try {
        delay = await round(mode);
      } catch (error) {
        logger.error({ err: error }, 'dispatching due jobs failed; retrying');
        onError?.(error);
        delay = ERROR_BACKOFF_MS;
      }
    }
    if (timer) clearTimeout(timer);
    if (!stopped) timer = setTimeout(() => request('claim'), Math.max(0, Math.min(delay, safetyIntervalMs)));
  };

  function request(mode: Exclude<Pending, 'none'>): void {
    if (stopped) return;
    if (mode === 'claim' || pending === 'none') pending = mode;
    if (running) return;
    running = loop().finally(() => {
      running = undefined;
      // A request that arrived after the loop's last check must not wait for the timer.
      if (pending !== 'none') request(pending);
    });
  }

  request('claim');
  return {
    notify: () => {
      if (stopped || peekTimer) return;
      peekTimer = setTimeout(() => {
        peekTimer = undefined;
        request('peek');
      }, coalesceMs);
    },
    stop: async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      if (peekTimer) clearTimeout(peekTimer);
      await running;
    },
  };
}

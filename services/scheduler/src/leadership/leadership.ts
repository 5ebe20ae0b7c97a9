import type { Logger } from '@conveyor/platform';

/**
 * Glossary: a *term* is one uninterrupted period in which this replica leads; *leader-only work*
 * is what runs during a term and nowhere else (cron fires, the reconciler).
 */

/** What an election tells the process. */
export interface LeadershipCallbacks {
  /** This replica leads from now on. */
  onStartedLeading(): void;
  /**
   * This replica no longer leads, or can no longer be sure it does. Called at the moment that is
   * known, so the work stops at once; the promise (awaited only when the election is stopped on
   * purpose) resolves once the work has wound down, before leadership is handed over.
   */
  onStoppedLeading(): Promise<void>;
  /** Another (or this) replica was seen taking leadership. */
  onNewLeader?(identity: string): void;
}

export interface Election {
  readonly identity: string;
  isLeader(): boolean;
  /** Stops campaigning. A leader first stops its work, then gives leadership up so a standby takes over at once. */
  stop(): Promise<void>;
}

/** What leader-only work hands back when it starts: how to stop it. */
export interface LeaderWork {
  stop(): Promise<void>;
}

/**
 * Runs leader-only work for the length of each term. `begin` starts a term; `end` aborts its
 * signal at once (the work checks it before each write) and resolves when the work has stopped.
 * A term starts only after the previous one has fully stopped, so two never overlap in one process.
 */
export function leaderOnly(start: (signal: AbortSignal) => Promise<LeaderWork>, logger: Logger) {
  let current: { abort: AbortController; work: Promise<LeaderWork | undefined> } | undefined;
  let stopped: Promise<void> = Promise.resolve();
  return {
    begin(): void {
      if (current) return;
      const abort = new AbortController();
      const work = stopped
        .then(() => (abort.signal.aborted ? undefined : start(abort.signal)))
        .catch((error: unknown) => {
          logger.error({ err: error }, 'starting the leader-only work failed');
          return undefined;
        });
      current = { abort, work };
    },
    end(): Promise<void> {
      const term = current;
      current = undefined;
      if (!term) return stopped;
      term.abort.abort();
      stopped = term.work
        .then((work) => work?.stop())
        .catch((error: unknown) => logger.error({ err: error }, 'stopping the leader-only work failed'));
      return stopped;
    },
  };
}

/** A random multiplier in [1, 1 + spread): replicas that started together do not poll in step. */
export function jittered(ms: number, spread = 0.2, random: () => number = Math.random): number {
  return ms * (1 + spread * random());
}

/**
 * Runs an election round now and then every retry period, the next one only after the last
 * ended; standbys wait a little longer at random. `stop` waits for the round in flight.
 */
export function everyRetryPeriod(round: () => Promise<void>, retryPeriodMs: number, leading: () => boolean) {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> | undefined;
  const loop = (): void => {
    current = round().finally(() => {
      current = undefined;
      if (!stopped) timer = setTimeout(loop, leading() ? retryPeriodMs : jittered(retryPeriodMs));
    });
  };
  loop();
  return {
    stopped: () => stopped,
    stop: async (): Promise<void> => {
      stopped = true;
      clearTimeout(timer);
      await current;
    },
  };
}

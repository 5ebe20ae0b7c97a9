/**
 * Whether this worker's pool is paused, as this process last heard it: from a notification on
 * POOL_CONTROL_CHANNEL (prompt), a re-read every refreshMs (the safety net for a missed one), and
 * from a claim that found the pool paused first (the claim's own guard, in CLAIM_JOBS_SQL).
 */
import { POOL_CONTROL_CHANNEL, readPoolControl, startListener, type Queryable } from '@conveyor/jobs';
import type { Logger, Pool } from '@conveyor/platform';

export class PoolPause {
  private state = false;
  private readonly listeners = new Set<(paused: boolean) => void>();

  get paused(): boolean {
    return this.state;
  }

  set(paused: boolean): void {
    if (paused === this.state) return;
    this.state = paused;
    for (const listener of this.listeners) listener(paused);
  }

  onChange(listener: (paused: boolean) => void): void {
    this.listeners.add(listener);
  }
}

export interface PoolPauseWatch {
  /** Re-reads the state now (a claim found the pool paused). */
  refresh: () => void;
  stop: () => Promise<void>;
}

/** Keeps `gate` in step with pool_controls until stopped; resolves once the first read is in. */
export async function watchPoolPause(options: {
  db: Queryable;
  listenPool: Pool;
  pool: string;
  gate: PoolPause;
  logger: Logger;
  refreshMs: number;
}): Promise<PoolPauseWatch> {
  const { db, pool, gate, logger } = options;
  // Reads one at a time, and one more if asked during a read, so a late answer never overwrites a newer one.
  let reading: Promise<void> | undefined;
  let again = false;
  const read = async () => {
    try {
      const { paused } = await readPoolControl(db, pool);
      if (paused !== gate.paused) logger.info({ pool }, paused ? 'pool paused: receiving stops, running jobs finish' : 'pool resumed: receiving again');
      gate.set(paused);
    } catch (error) {
      // The last state stands; the next notification or re-read tries again.
      logger.warn({ err: error, pool }, 'could not read whether the pool is paused');
    }
  };
  const refresh = () => {
    if (reading) {
      again = true;
      return;
    }
    reading = read().finally(() => {
      reading = undefined;
      if (again) {
        again = false;
        refresh();
      }
    });
  };
  refresh();
  await reading;
  const listener = startListener({
    pool: options.listenPool,
    channel: POOL_CONTROL_CHANNEL,
    logger,
    // No payload: the listener reconnected and may have missed a change.
    onWake: (changed) => (!changed || changed === pool ? refresh() : undefined),
  });
  const timer = setInterval(refresh, options.refreshMs);
  timer.unref();
  return {
    refresh,
    stop: async () => {
      clearInterval(timer);
      await listener.stop();
      await reading;
    },
  };
}

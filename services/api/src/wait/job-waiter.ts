import { endedAmong, type Queryable } from '@conveyor/jobs';
import { Counter, Gauge, type Logger, type Registry } from '@conveyor/platform';

/** What a wait ended with: the job ended, the time ran out (or the client left, or the api drains), or no room to wait. */
export type WaitOutcome = 'ended' | 'timeout' | 'busy';

export interface JobWaiterOptions {
  db: Queryable;
  /** The process's one LISTEN fan-out (events/outbox.listener.ts): calls `wake` whenever job events were written. */
  events: { subscribe(wake: () => void): () => void };
  /** PREFER_WAIT_MAX_WAITERS: requests held open at once; the next one is answered 202 at once. */
  maxWaiters: number;
  logger: Logger;
  registry?: Registry;
}

/**
 * Holds requests until their job ends (Prefer: wait), driven by the job events announcement the
 * SSE streams follow: no loop polls the database. A wake-up runs one query for every waiting job;
 * wake-ups during that query fold into one more. Subscribes only while someone waits.
 */
export class JobWaiter {
  private readonly waiting = new Map<string, Set<(outcome: WaitOutcome) => void>>();
  private count = 0;
  private unsubscribe: (() => void) | undefined;
  private checking = false;
  private again = false;
  private closed = false;
  private readonly outcomes: Counter<'outcome'>;

  constructor(private readonly options: JobWaiterOptions) {
    const registers = options.registry ? [options.registry] : [];
    const waiting = () => this.count;
    new Gauge({
      name: 'conveyor_prefer_wait_waiting',
      help: 'Submits held open by Prefer: wait, waiting for their job to end.',
      registers,
      collect() {
        this.set(waiting());
      },
    });
    // 'busy' climbing means PREFER_WAIT_MAX_WAITERS is too low for the traffic (or a replica too few).
    this.outcomes = new Counter({
      name: 'conveyor_prefer_wait_total',
      help: 'Waits of Prefer: wait submits, by outcome: ended (answered with the outcome), timeout, busy (over the bound).',
      labelNames: ['outcome'] as const,
      registers,
    });
  }

  get size(): number {
    return this.count;
  }

  /** Resolves once job `jobId` is in a final state, or with 'timeout' after `ms` or when `signal` aborts. */
  wait(jobId: string, ms: number, signal?: AbortSignal): Promise<WaitOutcome> {
    if (this.closed || this.count >= this.options.maxWaiters) {
      this.outcomes.inc({ outcome: 'busy' });
      return Promise.resolve('busy');
    }
    if (signal?.aborted) return Promise.resolve('timeout');
    return new Promise<WaitOutcome>((resolve) => {
      const done = (outcome: WaitOutcome) => {
        const set = this.waiting.get(jobId);
        if (!set?.delete(done)) return;
        if (set.size === 0) this.waiting.delete(jobId);
        this.count -= 1;
        clearTimeout(timer);
        signal?.removeEventListener('abort', left);
        if (this.count === 0) {
          this.unsubscribe?.();
          this.unsubscribe = undefined;
        }
        this.outcomes.inc({ outcome });
        resolve(outcome);
      };
      const left = () => done('timeout');
      const timer = setTimeout(left, ms);
      signal?.addEventListener('abort', left, { once: true });
      const set = this.waiting.get(jobId) ?? new Set();
      set.add(done);
      this.waiting.set(jobId, set);
      this.count += 1;
      this.unsubscribe ??= this.options.events.subscribe(() => void this.check());
      // The job may have ended between its insert and the subscription: look once now.
      void this.check();
    });
  }

  /** Answers every wait with 'timeout' (their requests then get 202) and takes no more: the api drains. */
  close(): void {
    this.closed = true;
    for (const set of [...this.waiting.values()]) for (const done of [...set]) done('timeout');
  }

  private async check(): Promise<void> {
    if (this.checking) {
      this.again = true;
      return;
    }
    this.checking = true;
    try {
      do {
        this.again = false;
        if (this.waiting.size === 0) return;
        const ended = await endedAmong(this.options.db, [...this.waiting.keys()]);
        for (const jobId of ended) for (const done of [...(this.waiting.get(jobId) ?? [])]) done('ended');
      } while (this.again);
    } catch (error) {
      // The next announcement (or the listener's safety wake-up) checks again; the waits time out meanwhile.
      this.options.logger.warn({ err: error }, 'could not check the jobs requests wait for');
    } finally {
      this.checking = false;
    }
  }
}

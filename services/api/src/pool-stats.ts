import type { PoolStats } from '@conveyor/jobs';

export type { PoolStats };

export type FetchPoolStats = (jobTypes: readonly string[]) => Promise<PoolStats>;

interface Entry {
  stats?: PoolStats;
  fetchedAt: number;
  refreshing?: Promise<PoolStats>;
}

/**
 * Caches each pool's stats for `ttlMs`, so thousands of 202 replies a second cost one query per
 * pool per interval. `peek` never waits (the hot path: POST /jobs keeps one round trip per job);
 * `get` waits for fresh numbers when the cached ones are stale.
 */
export class PoolStatsCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly fetch: FetchPoolStats,
    private readonly ttlMs = 1500,
    private readonly now: () => number = Date.now,
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {}

  /** Cached stats (possibly stale, or undefined before the first fetch); refreshes in the background. */
  peek(pool: string, jobTypes: readonly string[]): PoolStats | undefined {
    const entry = this.entry(pool);
    if (this.stale(entry)) this.refresh(entry, jobTypes).catch(this.onError);
    return entry.stats;
  }

  async get(pool: string, jobTypes: readonly string[]): Promise<PoolStats> {
    const entry = this.entry(pool);
    if (!this.stale(entry) && entry.stats) return entry.stats;
    return this.refresh(entry, jobTypes);
  }

  private entry(pool: string): Entry {
    let entry = this.entries.get(pool);
    if (!entry) {
      entry = { fetchedAt: Number.NEGATIVE_INFINITY };
      this.entries.set(pool, entry);
    }
    return entry;
  }

  private stale(entry: Entry): boolean {
    return this.now() - entry.fetchedAt >= this.ttlMs;
  }

  /** One query in flight per pool, however many callers find the entry stale at once. */
  private refresh(entry: Entry, jobTypes: readonly string[]): Promise<PoolStats> {
    entry.refreshing ??= this.fetch(jobTypes)
      .then((stats) => {
        entry.stats = stats;
        entry.fetchedAt = this.now();
        return stats;
      })
      .finally(() => {
        entry.refreshing = undefined;
      });
    return entry.refreshing;
  }
}

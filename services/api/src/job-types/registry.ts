import type { ValidateFunction } from 'ajv/dist/2020.js';
import { JOB_TYPES_CHANNEL, startListener, type JobTypeVersion } from '@conveyor/jobs';
import type { Logger, Pool } from '@conveyor/platform';
import type { JobTypeHead } from '@conveyor/jobs';
import { loadJobTypes } from './queries.js';
import { compileSchema } from './validator.js';

export type Resolution =
  | { kind: 'found'; type: JobTypeVersion; validate: ValidateFunction }
  | { kind: 'unknown' }
  | { kind: 'retired'; retiredAt: Date }
  | { kind: 'unknown-version'; latestVersion: number };

export interface JobTypeRegistryOptions {
  pool: Pool;
  logger: Logger;
  /** Full reload this often: the fallback for a NOTIFY lost while the LISTEN connection was down. */
  refreshMs: number;
}

/**
 * The registered job types, held in memory so a submit costs no query for its type. Every change
 * is announced on JOB_TYPES_CHANNEL after its commit; each replica reloads that type (and all of
 * them after a reconnect, and every refreshMs). A version never changes once written, so its
 * compiled validator is cached for the life of the process, compiled on first use.
 */
export class JobTypeRegistry {
  private heads = new Map<string, JobTypeHead>();
  private versions = new Map<string, JobTypeVersion>();
  private readonly validators = new Map<string, ValidateFunction>();
  private listener: { stop: () => Promise<void> } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private loaded = false;
  private loadError: unknown;
  /** pools(), computed once per reload: a submit's lookups cost no walk over every type. */
  private poolsCache: Map<string, string[]> | undefined;

  constructor(private readonly options: JobTypeRegistryOptions) {}

  /**
   * Loads every type, then follows changes. Postgres down at start is not fatal (readiness says so,
   * as for every other dependency): the listener's reconnect and the refresh load the types later,
   * and until then a submit fails as the database does (503), never a 422 for a type that exists.
   */
  async start(): Promise<void> {
    await this.reload().catch((err: unknown) => {
      this.loadError = err;
      this.options.logger.warn({ err }, 'could not load job types yet; retrying');
    });
    this.listener = startListener({
      pool: this.options.pool,
      channel: JOB_TYPES_CHANNEL,
      logger: this.options.logger,
      onWake: (name) => void this.reload(name || undefined).catch((err: unknown) => this.options.logger.warn({ err, name }, 'could not reload job types')),
    });
    this.timer = setInterval(
      () => void this.reload().catch((err: unknown) => this.options.logger.warn({ err }, 'could not refresh job types')),
      this.options.refreshMs,
    ).unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.listener?.stop();
  }

  /** For readiness: throws until every type has been loaded once. */
  assertLoaded(): void {
    if (!this.loaded) throw new Error('job types not loaded yet');
  }

  /** Reloads one type, or all of them. */
  async reload(name?: string): Promise<void> {
    const loaded = await loadJobTypes(this.options.pool, name);
    this.poolsCache = undefined;
    if (name === undefined) {
      this.heads = new Map();
      this.versions = new Map();
      this.loaded = true;
    } else {
      this.heads.delete(name);
    }
    for (const { versions, ...head } of loaded) {
      this.heads.set(head.name, head);
      for (const v of versions) this.versions.set(key(v.name, v.version), v);
    }
  }

  resolve(name: string, version?: number): Resolution {
    // The load's own error: a database that cannot be reached is the api's usual 503 with Retry-After.
    if (!this.loaded) throw this.loadError ?? new Error('job types not loaded yet');
    const head = this.heads.get(name);
    if (!head) return { kind: 'unknown' };
    if (head.retiredAt) return { kind: 'retired', retiredAt: head.retiredAt };
    const k = key(name, version ?? head.latestVersion);
    const type = this.versions.get(k);
    if (!type) return { kind: 'unknown-version', latestVersion: head.latestVersion };
    let validate = this.validators.get(k);
    if (!validate) {
      validate = compileSchema(type.schema);
      this.validators.set(k, validate);
    }
    return { kind: 'found', type, validate };
  }

  /** The types a pool runs: those not retired whose latest version names it. */
  typesOf(pool: string): string[] {
    return this.pools().get(pool) ?? [];
  }

  /** Every pool a type not retired names in its latest version, with those types (sorted): platform and team pools alike. */
  pools(): Map<string, string[]> {
    if (this.poolsCache) return this.poolsCache;
    const pools = new Map<string, string[]>();
    for (const head of [...this.heads.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      const pool = head.retiredAt ? undefined : this.latestOf(head.name)?.pool;
      if (pool) pools.set(pool, [...(pools.get(pool) ?? []), head.name]);
    }
    this.poolsCache = pools;
    return pools;
  }

  /** The pool a type not retired runs in, with every type that pool runs. */
  poolOf(type: string): { name: string; jobTypes: string[] } | undefined {
    const head = this.heads.get(type);
    const name = head && !head.retiredAt ? this.latestOf(type)?.pool : undefined;
    return name === undefined ? undefined : { name, jobTypes: this.typesOf(name) };
  }

  /** The latest version of a type, retired or not. */
  latestOf(name: string): JobTypeVersion | undefined {
    const head = this.heads.get(name);
    return head && this.versions.get(key(name, head.latestVersion));
  }
}

const key = (name: string, version: number) => `${name}\u0000${version}`;

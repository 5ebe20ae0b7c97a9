import type { ValidateFunction } from 'ajv/dist/2020.js';
import { JOB_TYPES_CHANNEL, startListener, type JobTypeVersion } from '@conveyor/jobs';
import type { Logger, Pool } from '@conveyor/platform';
import { loadJobTypes, type JobTypeHead } from './queries.js';
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

  constructor(private readonly options: JobTypeRegistryOptions) {}

  /** Loads every type; resolves once the cache is complete, so the api never serves from an empty one. */
  async start(): Promise<void> {
    await this.reload();
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

  /** Reloads one type, or all of them. */
  async reload(name?: string): Promise<void> {
    const loaded = await loadJobTypes(this.options.pool, name);
    if (name === undefined) {
      this.heads = new Map();
      this.versions = new Map();
    } else {
      this.heads.delete(name);
    }
    for (const { versions, ...head } of loaded) {
      this.heads.set(head.name, head);
      for (const v of versions) this.versions.set(key(v.name, v.version), v);
    }
  }

  resolve(name: string, version?: number): Resolution {
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

  /** The latest version of a type, retired or not. */
  latestOf(name: string): JobTypeVersion | undefined {
    const head = this.heads.get(name);
    return head && this.versions.get(key(name, head.latestVersion));
  }
}

const key = (name: string, version: number) => `${name}\u0000${version}`;

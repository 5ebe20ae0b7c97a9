import { announceJobType, compileJobSchema, JOB_TYPES, InvalidJobSchemaError, registerJobType, retireJobType } from '@conveyor/jobs';
import type { Logger, Pool } from '@conveyor/platform';
import { nextConditions, sameStatus, type ConditionInput } from '../operator/conditions.js';
import { apiStatus, KeyedQueue, keyOf, type ResourceWriter } from '../operator/resource.js';
import { checkSpec, FINALIZER, olderThan, typeNameOf, type JobTypeObject, type JobTypeStatus } from './job-type.resource.js';

export interface JobTypeControllerOptions {
  pool: Pool;
  writer: ResourceWriter;
  logger: Logger;
  /** Pools a type may name: the platform's and the WorkerPools'. */
  knownPools: () => ReadonlySet<string>;
  retryMs?: number;
  /** Aborted when this replica stops leading: from then on nothing is written. */
  signal?: AbortSignal;
  onError?: () => void;
  now?: () => Date;
}

/**
 * Reconciles JobType resources into the job type registry with the admin endpoint's own steps
 * (compile the schema, registerJobType, announce): an unchanged spec changes nothing, a changed
 * one becomes the next version. Deleting the resource retires the type, as DELETE /job-types does.
 */
export class JobTypeController {
  private readonly queue: KeyedQueue<JobTypeObject>;
  private readonly now: () => Date;

  constructor(private readonly options: JobTypeControllerOptions) {
    this.now = options.now ?? (() => new Date());
    this.queue = new KeyedQueue((_key, obj) => this.reconcile(obj), {
      logger: options.logger,
      retryMs: options.retryMs ?? 5_000,
      signal: options.signal,
      onError: options.onError,
    });
  }

  upsert(obj: JobTypeObject): void {
    this.queue.set(keyOf(obj), obj);
  }

  /** Gone from the API server (its finalizer already removed): a JobType it blocked may own the name now. */
  remove(obj: JobTypeObject): void {
    this.queue.forget(keyOf(obj));
    this.requeueNamed(typeNameOf(obj));
  }

  /** Reconciles every JobType again (a WorkerPool came or went: a pool may now be known). */
  requeueAll(): void {
    for (const obj of this.queue.values()) this.queue.enqueue(keyOf(obj));
  }

  idle(): Promise<void> {
    return this.queue.idle();
  }

  stop(): Promise<void> {
    return this.queue.stop();
  }

  private requeueNamed(name: string): void {
    for (const other of this.queue.values()) if (typeNameOf(other) === name) this.queue.enqueue(keyOf(other));
  }

  /** The oldest live JobType naming the same type, other than obj, if it is older than obj. */
  private olderClaim(obj: JobTypeObject): JobTypeObject | undefined {
    const name = typeNameOf(obj);
    return this.queue
      .values()
      .filter((o) => keyOf(o) !== keyOf(obj) && typeNameOf(o) === name && !o.metadata.deletionTimestamp)
      .find((o) => olderThan(o, obj));
  }

  private async reconcile(obj: JobTypeObject): Promise<void> {
    const { pool, writer, logger } = this.options;
    const finalizers = obj.metadata.finalizers ?? [];
    const name = typeNameOf(obj);
    const log = logger.child({ jobType: keyOf(obj), name });

    if (obj.metadata.deletionTimestamp) {
      if (!finalizers.includes(FINALIZER)) return;
      // Only the owner's deletion retires: a conflicting duplicate never registered anything.
      // A status version means this object registered the type at some generation.
      const owner = !this.olderClaim(obj) && typeof obj.status?.version === 'number' && !JOB_TYPES.has(name);
      if (owner) {
        if (await retireJobType(pool, name)) await announceJobType(pool, name);
        log.info('JobType deleted: type retired');
      }
      if (!this.queue.acting) return;
      await this.guard(() => writer.setFinalizers(obj, finalizers.filter((f) => f !== FINALIZER)));
      this.requeueNamed(name);
      return;
    }
    if (!finalizers.includes(FINALIZER)) {
      // The update this patch causes reconciles again, with the finalizer in place.
      if (this.queue.acting) await this.guard(() => writer.setFinalizers(obj, [...finalizers, FINALIZER]));
      return;
    }

    const generation = obj.metadata.generation ?? 1;
    const previous = obj.status;
    const status = (condition: ConditionInput, version?: number): JobTypeStatus => ({
      observedGeneration: generation,
      typeName: name,
      version,
      conditions: nextConditions(previous?.conditions, [condition], generation, this.now()),
    });
    const refuse = (reason: string, message: string) => status({ type: 'Registered', status: 'False', reason, message }, previous?.version);

    const older = this.olderClaim(obj);
    const check = checkSpec(obj, this.options.knownPools());
    let next: JobTypeStatus;
    if (older) {
      next = refuse('NameConflict', `job type ${name} is declared by JobType ${keyOf(older)}, which is older`);
    } else if (!check.ok) {
      next = refuse(check.reason, check.message);
    } else {
      next = await this.register(check.name, check.spec, refuse, status, log);
    }
    if (!this.queue.acting || sameStatus(previous, next)) return;
    // A merge patch replaces what it names: an absent version is sent as null so a stale one goes.
    await this.guard(() => writer.writeStatus(obj, { ...next, version: next.version ?? null }));
  }

  private async register(
    name: string,
    spec: Parameters<typeof registerJobType>[2],
    refuse: (reason: string, message: string) => JobTypeStatus,
    status: (c: ConditionInput, version?: number) => JobTypeStatus,
    log: Logger,
  ): Promise<JobTypeStatus> {
    try {
      compileJobSchema(spec.schema);
    } catch (error) {
      if (error instanceof InvalidJobSchemaError) return refuse('InvalidSchema', error.reason);
      throw error;
    }
    if (!this.queue.acting) throw new Error('no longer leading');
    const outcome = await registerJobType(this.options.pool, name, spec);
    if (outcome.created) {
      await announceJobType(this.options.pool, name);
      log.info({ version: outcome.version }, 'JobType registered a new version');
    }
    return status({ type: 'Registered', status: 'True', reason: 'Registered', message: `registered as version ${outcome.version}` }, outcome.version);
  }

  /** A 409 (the object changed since it was read) or 404 (it is gone) waits for the watch's newer news. */
  private async guard(write: () => Promise<void>): Promise<void> {
    try {
      await write();
    } catch (error) {
      const code = apiStatus(error);
      if (code === 409 || code === 404) return;
      throw error;
    }
  }
}

import { announceJobType, compileJobSchema, InvalidJobSchemaError, JOB_TYPES, registerJobType, retireJobType, type JobTypeSpec } from '@conveyor/jobs';
import type { Logger, Pool } from '@conveyor/platform';
import { nextConditions, sameStatus, type ConditionInput } from '../operator/conditions.js';
import { ResourceController, type ResourceControllerOptions } from '../operator/controller.js';
import { keyOf } from '../operator/resource.js';
import { checkSpec, FINALIZER, typeNameOf, type JobTypeObject, type JobTypeStatus } from './job-type.resource.js';

export interface JobTypeControllerOptions extends ResourceControllerOptions {
  pool: Pool;
  /** Pools a type may name: the platform's and the WorkerPools'. */
  knownPools: () => ReadonlySet<string>;
}

/**
 * Reconciles JobType resources into the job type registry with the admin endpoint's own steps
 * (compile the schema, registerJobType, announce): an unchanged spec changes nothing, a changed
 * one becomes the next version. Deleting the resource retires the type, as DELETE /job-types does.
 */
export class JobTypeController extends ResourceController<JobTypeObject> {
  constructor(private readonly options: JobTypeControllerOptions) {
    super(options);
  }

  /** A JobType it blocked may own the name now. */
  protected override removed(obj: JobTypeObject): void {
    this.requeueNamed(typeNameOf(obj));
  }

  /** Every JobType seen (for WorkerPool selectors): its namespace, type name and labels. */
  declared(): Array<{ namespace: string; name: string; labels: Record<string, string> }> {
    return this.queue.values().map((o) => ({ namespace: o.metadata.namespace ?? 'default', name: typeNameOf(o), labels: o.metadata.labels ?? {} }));
  }

  private requeueNamed(name: string): void {
    this.requeueClaims(name, typeNameOf);
  }

  protected async reconcile(obj: JobTypeObject): Promise<void> {
    const { pool, logger } = this.options;
    const name = typeNameOf(obj);
    const log = logger.child({ jobType: keyOf(obj), name });

    const finished = await this.finalized(obj, FINALIZER, async () => {
      // Only the owner's deletion retires: a conflicting duplicate never registered anything. A
      // status version means this object registered the type at some generation; a later version
      // means a younger JobType took the name over while this one was terminating, and keeps it.
      const registered = obj.status?.version;
      const owner = !this.olderClaim(obj, typeNameOf) && typeof registered === 'number' && !JOB_TYPES.has(name);
      if (owner && (await retireJobType(pool, name, registered))) {
        await announceJobType(pool, name);
        log.info('JobType deleted: type retired');
      }
      this.requeueNamed(name);
    });
    if (finished) return;

    const generation = obj.metadata.generation ?? 1;
    const previous = obj.status;
    const status = (condition: ConditionInput, version?: number): JobTypeStatus => ({
      observedGeneration: generation,
      typeName: name,
      version,
      conditions: nextConditions(previous?.conditions, [condition], generation, this.now()),
    });
    const refuse = (reason: string, message: string) => status({ type: 'Registered', status: 'False', reason, message }, previous?.version);

    const older = this.olderClaim(obj, typeNameOf);
    const check = checkSpec(obj, this.options.knownPools());
    let next: JobTypeStatus;
    if (older) {
      next = refuse('NameConflict', `job type ${name} is declared by JobType ${keyOf(older)}, which is older`);
    } else if (!check.ok) {
      next = refuse(check.reason, check.message);
    } else {
      next = await this.register(check.name, check.spec, refuse, status, log);
    }
    if (sameStatus(previous, next)) return;
    // A merge patch replaces what it names: an absent version is sent as null so a stale one goes.
    await this.writeStatus(obj, { ...next, version: next.version ?? null });
  }

  private async register(
    name: string,
    spec: JobTypeSpec,
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
}

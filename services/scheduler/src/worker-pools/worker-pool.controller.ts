import { poolQueueNames, type PoolQueues, type ProvisionedQueue, type WorkerPool } from '@conveyor/jobs';
import { nextConditions, sameStatus, type ConditionInput } from '../operator/conditions.js';
import { ResourceController, type ResourceControllerOptions } from '../operator/controller.js';
import { keyOf } from '../operator/resource.js';
import {
  deploymentManifest,
  FINALIZER,
  parseSpec,
  poolJobTypes,
  poolOf,
  queueConflict,
  readyFromDeployment,
  scaledObjectManifest,
  type ManifestSettings,
  type WorkerPoolObject,
  type WorkerPoolStatus,
} from './worker-pool.resource.js';

/** The Kubernetes objects a pool owns: applied server-side, read back for their status. */
export interface PoolCluster {
  apply(manifest: { kind: string; metadata: { name: string; namespace: string } }): Promise<void>;
  readDeployment(namespace: string, name: string): Promise<Parameters<typeof readyFromDeployment>[0]>;
  /** KEDA's own Ready condition of the ScaledObject, once KEDA has looked at it. */
  readScaledObjectReady(namespace: string, name: string): Promise<{ status: string; reason?: string; message?: string } | undefined>;
}

/** The pool's queues: provision's own functions, bound to the SNS topic and clients. */
export interface PoolQueueKeeper {
  provision(pool: WorkerPool, names: PoolQueues): Promise<ProvisionedQueue>;
  remove(names: PoolQueues): Promise<void>;
}

export interface WorkerPoolControllerOptions extends ResourceControllerOptions {
  cluster: PoolCluster;
  queues: PoolQueueKeeper;
  settings: ManifestSettings;
  /** JobTypes known to the operator, for a pool's selector. */
  jobTypes: () => ReadonlyArray<{ namespace: string; name: string; labels: Record<string, string> }>;
  /** Called when the set of pools with a ready queue changed (JobTypes naming them may register now). */
  onPoolsChanged?: () => void;
  /** Re-reads each pool this often: the Deployment's and KEDA's status change without a WorkerPool event. */
  resyncMs?: number;
}

/**
 * Reconciles WorkerPools: queue + DLQ + SNS subscription (provision's functions), then the
 * Deployment and the KEDA ScaledObject (server-side apply, owned by the WorkerPool), then status
 * conditions QueueReady, Scaling and Ready. Deleting a pool removes its queues; the garbage
 * collector removes the Deployment (its pods drain for drainSeconds) and the ScaledObject.
 */
export class WorkerPoolController extends ResourceController<WorkerPoolObject> {
  private readonly readyPools = new Set<string>();

  constructor(private readonly options: WorkerPoolControllerOptions) {
    super(options);
  }

  protected override removed(obj: WorkerPoolObject): void {
    this.setReady(obj.metadata.name, false);
    // A younger pool with a colliding queue name may own it now.
    this.requeueAll();
  }

  /**
   * Pools whose queue is provisioned, by this process or (its stored QueueReady says so) by an
   * earlier leader: JobTypes may name them. The stored status keeps a new leader from reporting
   * registered types as UnknownPool until it has provisioned every pool again.
   */
  pools(): string[] {
    const stored = this.queue
      .values()
      .filter((o) => !o.metadata.deletionTimestamp && o.status?.conditions?.some((c) => c.type === 'QueueReady' && c.status === 'True'))
      .map((o) => o.metadata.name);
    return [...new Set([...this.readyPools, ...stored])];
  }

  private setReady(name: string, ready: boolean): void {
    if (this.readyPools.has(name) === ready) return;
    if (ready) this.readyPools.add(name);
    else this.readyPools.delete(name);
    this.options.onPoolsChanged?.();
  }

  protected async reconcile(obj: WorkerPoolObject): Promise<void> {
    const { queues, cluster, settings, logger } = this.options;
    const name = obj.metadata.name;
    const namespace = obj.metadata.namespace ?? 'default';
    const names = poolQueueNames(settings.conveyorNamespace, name);
    const log = logger.child({ workerPool: keyOf(obj) });
    const others = this.queue.values().filter((o) => keyOf(o) !== keyOf(obj) && !o.metadata.deletionTimestamp);
    const conflict = queueConflict(obj, others, settings.conveyorNamespace);

    const finished = await this.finalized(obj, FINALIZER, async () => {
      // Only the pool owning the names removes the queues (idempotent when it never made them).
      if (conflict) return;
      this.setReady(name, false);
      await queues.remove(names);
      log.info(names, 'WorkerPool deleted: queues and subscription removed');
    });
    if (finished) return;

    const generation = obj.metadata.generation ?? 1;
    const previous = obj.status;
    const write = async (conditions: ConditionInput[], extra: Partial<WorkerPoolStatus>) => {
      const next: WorkerPoolStatus = {
        observedGeneration: generation,
        queue: extra.queue,
        queueUrl: extra.queueUrl,
        deadLetterQueueUrl: extra.deadLetterQueueUrl,
        jobTypes: extra.jobTypes,
        conditions: nextConditions(previous?.conditions, conditions, generation, this.now()),
      };
      if (sameStatus(previous, next)) return;
      // A merge patch replaces what it names: absent fields are sent as null so stale values go.
      await this.writeStatus(obj, { ...next, queue: next.queue ?? null, queueUrl: next.queueUrl ?? null, deadLetterQueueUrl: next.deadLetterQueueUrl ?? null, jobTypes: next.jobTypes ?? null });
    };
    const notReady = (reason: string, message: string): ConditionInput[] => [
      { type: 'QueueReady', status: 'False', reason, message },
      { type: 'Scaling', status: 'False', reason: 'QueueNotReady', message: 'the queue is not ready' },
      { type: 'Ready', status: 'False', reason: 'QueueNotReady', message: 'the queue is not ready' },
    ];

    const parsed = parseSpec(obj.spec);
    if (!parsed.ok) {
      this.setReady(name, false);
      return write(notReady('InvalidSpec', parsed.message), {});
    }
    const { spec } = parsed;
    const jobTypes = poolJobTypes(spec, this.options.jobTypes(), namespace);
    if (conflict) {
      this.setReady(name, false);
      return write(notReady('QueueNameConflict', conflict), { jobTypes });
    }

    let provisioned: ProvisionedQueue;
    try {
      provisioned = await queues.provision(poolOf(name, spec), names);
    } catch (error) {
      // Reported and retried: credentials, quotas or the emulator may come back.
      log.warn({ err: error }, 'provisioning the pool queue failed');
      // The queues made before (if any) still exist: their names stay in the status.
      const { queue, queueUrl, deadLetterQueueUrl } = previous ?? {};
      await write(notReady('ProvisioningFailed', error instanceof Error ? `${error.name}: ${error.message}` : String(error)), { queue, queueUrl, deadLetterQueueUrl, jobTypes });
      this.queue.enqueue(keyOf(obj), this.options.retryMs ?? 5_000);
      return;
    }
    this.setReady(name, true);
    const queueStatus = { queue: names.queue, queueUrl: provisioned.queueUrl, deadLetterQueueUrl: provisioned.deadLetterQueueUrl, jobTypes };
    const queueReady: ConditionInput = {
      type: 'QueueReady',
      status: 'True',
      reason: 'Provisioned',
      message: `queue ${names.queue} (DLQ ${names.deadLetterQueue}) subscribed to the jobs topic for pool ${name}`,
    };

    if (!this.queue.acting) return;
    await cluster.apply(deploymentManifest(obj, spec, settings));
    await cluster.apply(scaledObjectManifest(obj, spec, provisioned.classQueues, settings));
    const keda = await cluster.readScaledObjectReady(namespace, name);
    const scaling: ConditionInput =
      keda?.status === 'False'
        ? { type: 'Scaling', status: 'False', reason: keda.reason || 'ScaledObjectNotReady', message: keda.message ?? 'KEDA reports the ScaledObject not ready' }
        : {
            type: 'Scaling',
            status: 'True',
            reason: keda?.status === 'True' ? 'ScaledObjectReady' : 'ScaledObjectApplied',
            message: `KEDA scales ${spec.replicas.min}..${spec.replicas.max} replicas at ${spec.targetQueueDepth} messages each`,
          };
    const ready = readyFromDeployment(await cluster.readDeployment(namespace, name));
    await write([queueReady, scaling, { type: 'Ready', ...ready }], queueStatus);
    this.queue.enqueue(keyOf(obj), this.options.resyncMs ?? 30_000);
  }
}

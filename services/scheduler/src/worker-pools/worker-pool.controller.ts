import { poolQueueNames, type PoolQueues, type ProvisionedQueue, type WorkerPool } from '@conveyor/jobs';
import type { Logger, QueueDepth } from '@conveyor/platform';
import { nextConditions, sameStatus, type ConditionInput } from '../operator/conditions.js';
import { ResourceController, type ResourceControllerOptions } from '../operator/controller.js';
import { keyOf } from '../operator/resource.js';
import {
  deploymentManifest,
  drainDecision,
  FINALIZER,
  FORCE_DELETE_ANNOTATION,
  parseSpec,
  poolJobTypes,
  poolOf,
  queueConflict,
  readyFromDeployment,
  readyFromPods,
  scaledObjectManifest,
  type ManifestSettings,
  type WorkerPoolObject,
  type WorkerPoolSpec,
  type WorkerPoolStatus,
} from './worker-pool.resource.js';

/** The Kubernetes objects a pool owns: applied server-side, read back for their status. */
export interface PoolCluster {
  apply(manifest: { kind: string; metadata: { name: string; namespace: string } }): Promise<void>;
  readDeployment(namespace: string, name: string): Promise<Parameters<typeof readyFromDeployment>[0]>;
  /** The pods of the pool's Deployment (its selector's labels), for kubelet's reasons a Deployment does not carry. */
  listPods(namespace: string, name: string): Promise<Parameters<typeof readyFromPods>[0]>;
  /** KEDA's own Ready condition of the ScaledObject, once KEDA has looked at it. */
  readScaledObjectReady(namespace: string, name: string): Promise<{ status: string; reason?: string; message?: string } | undefined>;
  /** Sets the ScaledObject's minReplicaCount (a draining pool keeps a worker); a missing one is left missing. */
  keepWorkers(namespace: string, name: string, minReplicas: number): Promise<void>;
  /** Deletes the ScaledObject, then the Deployment (its pods drain for their grace period); missing ones are fine. */
  removeWorkers(namespace: string, name: string): Promise<void>;
}

/** The pool's queues: provision's own functions, bound to the SNS topic and clients. */
export interface PoolQueueKeeper {
  provision(pool: WorkerPool, names: PoolQueues): Promise<ProvisionedQueue>;
  /** Removes the subscriptions only: no new messages, the queued ones stay. */
  unsubscribe(names: PoolQueues): Promise<void>;
  /** What the class queues hold, added up (queues that do not exist hold nothing). */
  depth(names: PoolQueues): Promise<QueueDepth>;
  /** Fails the jobs of the messages waiting in the class queues (they become dead letters); how many. */
  abandon(names: PoolQueues, error: string): Promise<number>;
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
  /** A deleted pool's queues must stay empty this long before they are removed (default 5 s). */
  drainSettleMs?: number;
}

/** What this process knows of a pool it is draining (a new leader starts over: each step is idempotent). */
interface Drain {
  unsubscribed: boolean;
  keptWorkers: boolean;
  emptySince?: number;
}

/**
 * Reconciles WorkerPools: queue + DLQ + SNS subscription (provision's functions), then the
 * Deployment and the KEDA ScaledObject (server-side apply, owned by the WorkerPool), then status
 * conditions QueueReady, Scaling and Ready. Deleting a pool drains it: the subscriptions go first,
 * the workers run until the class queues are empty (condition Draining with the count left), then
 * the ScaledObject, the Deployment and the queues go and the finalizer is released.
 */
export class WorkerPoolController extends ResourceController<WorkerPoolObject> {
  private readonly readyPools = new Set<string>();
  private readonly drains = new Map<string, Drain>();

  constructor(private readonly options: WorkerPoolControllerOptions) {
    super(options);
  }

  protected override removed(obj: WorkerPoolObject): void {
    this.drains.delete(obj.metadata.uid ?? keyOf(obj));
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

    const write = this.statusWriter(obj);
    const finished = await this.finalized(obj, FINALIZER, async () => {
      // Only the pool owning the names removes the queues (idempotent when it never made them).
      if (conflict) return true;
      this.setReady(name, false);
      return this.drain(obj, names, write, log);
    });
    if (finished) return;

    const notReady = (reason: string, message: string): ConditionInput[] => [
      { type: 'QueueReady', status: 'False', reason, message },
      { type: 'Scaling', status: 'False', reason: 'QueueNotReady', message: 'the queue is not ready' },
      { type: 'Ready', status: 'False', reason: 'QueueNotReady', message: 'the queue is not ready' },
    ];
    const previous = obj.status;

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
    await write([queueReady, ...(await this.workerConditions(namespace, name, spec))], queueStatus);
    this.queue.enqueue(keyOf(obj), this.options.resyncMs ?? 30_000);
  }

  /** Scaling from KEDA's own Ready condition, Ready from the pods' waiting containers or else the Deployment's status. */
  private async workerConditions(namespace: string, name: string, spec: WorkerPoolSpec): Promise<ConditionInput[]> {
    const { cluster } = this.options;
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
    // A pod stuck on its image or its config says why; otherwise the Deployment's status does.
    const stuck = readyFromPods(await cluster.listPods(namespace, name));
    return [scaling, { type: 'Ready', ...(stuck ?? readyFromDeployment(await cluster.readDeployment(namespace, name))) }];
  }

  /** Writes the status unless unchanged; absent fields are sent as null so stale values go (a merge patch replaces what it names). */
  private statusWriter(obj: WorkerPoolObject) {
    const generation = obj.metadata.generation ?? 1;
    return async (conditions: ConditionInput[], extra: Partial<WorkerPoolStatus>) => {
      const next: WorkerPoolStatus = {
        observedGeneration: generation,
        queue: extra.queue,
        queueUrl: extra.queueUrl,
        deadLetterQueueUrl: extra.deadLetterQueueUrl,
        jobTypes: extra.jobTypes,
        conditions: nextConditions(obj.status?.conditions, conditions, generation, this.now()),
      };
      if (sameStatus(obj.status, next)) return;
      await this.writeStatus(obj, { ...next, queue: next.queue ?? null, queueUrl: next.queueUrl ?? null, deadLetterQueueUrl: next.deadLetterQueueUrl ?? null, jobTypes: next.jobTypes ?? null });
    };
  }

  /**
   * One look at a deleted pool: unsubscribe (once), keep a worker while messages are left (KEDA
   * would keep one anyway while its trigger counts them, but not at once from zero: its polling
   * interval), report Draining; once drained (or forced), remove the workers, then the queues.
   * True when the finalizer may go.
   */
  private async drain(obj: WorkerPoolObject, names: PoolQueues, write: ReturnType<WorkerPoolController['statusWriter']>, log: Logger): Promise<boolean> {
    const { queues, cluster } = this.options;
    // A replica that no longer leads changes nothing: the new leader drains.
    if (!this.queue.acting) return false;
    const name = obj.metadata.name;
    const namespace = obj.metadata.namespace ?? 'default';
    const id = obj.metadata.uid ?? keyOf(obj);
    const state = this.drains.get(id) ?? { unsubscribed: false, keptWorkers: false };
    this.drains.set(id, state);
    if (!state.unsubscribed) {
      await queues.unsubscribe(names);
      state.unsubscribed = true;
      log.info('WorkerPool deleted: subscriptions removed, draining its queues');
    }
    const force = obj.metadata.annotations?.[FORCE_DELETE_ANNOTATION] === 'true';
    const decision = drainDecision({ left: await queues.depth(names), force, emptySince: state.emptySince, now: this.now().getTime(), settleMs: this.options.drainSettleMs ?? 5_000 });
    if (decision.action === 'wait') {
      state.emptySince = decision.emptySince;
      const parsed = parseSpec(obj.spec);
      const spec = parsed.ok ? parsed.spec : undefined;
      if (!state.keptWorkers && spec && decision.condition.reason === 'MessagesLeft') {
        await cluster.keepWorkers(namespace, name, Math.max(1, spec.replicas.min));
        state.keptWorkers = true;
      }
      const { queue, queueUrl, deadLetterQueueUrl, jobTypes } = obj.status ?? {};
      const queueReady: ConditionInput = { type: 'QueueReady', status: 'False', reason: 'Draining', message: 'the WorkerPool is being deleted: its subscriptions are removed, no new message arrives' };
      // A pool whose spec never parsed made no workers: nothing to say about them.
      const workers = spec ? await this.workerConditions(namespace, name, spec) : [];
      await write([queueReady, ...workers, decision.condition], { queue, queueUrl, deadLetterQueueUrl, jobTypes });
      this.queue.enqueue(keyOf(obj), Math.min(this.options.resyncMs ?? 30_000, this.options.drainSettleMs ?? 5_000));
      return false;
    }
    if (!this.queue.acting) return false;
    if (decision.abandon) {
      const failed = await queues.abandon(names, `WorkerPool ${namespace}/${name} was deleted by force (${FORCE_DELETE_ANNOTATION}) before the job ran`);
      log.warn({ failed }, 'WorkerPool deleted by force: the waiting jobs failed (dead letters: GET /dlq, redrive once a pool runs their type)');
    }
    await cluster.removeWorkers(namespace, name);
    await queues.remove(names);
    log.info(names, 'WorkerPool deleted: drained, workers and queues removed');
    return true;
  }
}

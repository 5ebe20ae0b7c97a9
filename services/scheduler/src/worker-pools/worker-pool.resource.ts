import { parseWorkerPoolSpec, platformQueueConflict, poolQueueNames, poolQueueSet, workerPoolOf, type WorkerPoolSpec } from '@conveyor/jobs';
import type { QueueDepth } from '@conveyor/platform';
import type { ResourceObject } from '../operator/resource.js';
import { olderThan } from '../operator/controller.js';
import { GROUP, VERSION } from '../operator/watch.js';
import type { Condition, ConditionInput } from '../operator/conditions.js';

/**
 * Glossary. WorkerPool: the custom resource declaring a team's pool; its object name is the pool's
 * name (the jobs' `pool` attribute, the queue conveyor-<name>). Owner: of several WorkerPools whose
 * queue names collide (or collide with a platform pool's), the platform pool, then the oldest.
 */
export const PLURAL = 'workerpools';
export const KIND = 'WorkerPool';
/** Held until the pool's queues are drained and removed. */
export const FINALIZER = 'conveyor.dev/worker-pool';
/** The server-side apply field manager of everything the operator makes. */
export const FIELD_MANAGER = 'conveyor-operator';
export const POOL_LABEL = 'conveyor.dev/pool';

export interface WorkerPoolStatus {
  observedGeneration?: number;
  queue?: string;
  queueUrl?: string;
  deadLetterQueueUrl?: string;
  jobTypes?: string[];
  conditions?: Condition[];
}

export type WorkerPoolObject = ResourceObject<Record<string, unknown>, WorkerPoolStatus>;

export type { WorkerPoolSpec };

/** The CRD's rules (packages/jobs, which `make start` checks local manifests with too): `field: reason`. */
export function parseSpec(spec: unknown): { ok: true; spec: WorkerPoolSpec } | { ok: false; message: string } {
  const parsed = parseWorkerPoolSpec(spec);
  return parsed.ok ? parsed : { ok: false, message: `${parsed.field || 'spec'}: ${parsed.message}` };
}

/** What provisioning needs of a pool (topology.ts' shape, so provision's functions take it as a platform pool). */
export const poolOf = workerPoolOf;

/**
 * Why this pool's queue names cannot be used, if they cannot: a platform pool's, or an older
 * WorkerPool's (another namespace may declare the same name; "x-dlq", "x-high" and "x-low" make
 * queue names of "x").
 */
export function queueConflict(obj: WorkerPoolObject, others: readonly WorkerPoolObject[], conveyorNamespace: string): string | undefined {
  const platform = platformQueueConflict(conveyorNamespace, obj.metadata.name);
  if (platform) return platform;
  const mine = new Set(poolQueueSet(poolQueueNames(conveyorNamespace, obj.metadata.name)));
  for (const other of others) {
    if (other.metadata.uid === obj.metadata.uid || !olderThan(other, obj)) continue;
    const hit = poolQueueSet(poolQueueNames(conveyorNamespace, other.metadata.name)).find((n) => mine.has(n));
    if (hit) return `queue ${hit} belongs to WorkerPool ${other.metadata.namespace}/${other.metadata.name}, which is older`;
  }
  return undefined;
}

export interface ManifestSettings {
  conveyorNamespace: string;
  awsRegion: string;
  awsEndpoint?: string;
  /** KEDA TriggerAuthentication of the SQS trigger; none means KEDA's own identity. */
  triggerAuthentication?: string;
  /** The api's ops port as KEDA reaches it; a pool with spec.drainScaling gets a time-to-drain trigger there. */
  scalingUrl?: string;
  /** Failed reads of a trigger in a row before KEDA's fallback applies. */
  scalingFailureThreshold?: number;
}

/** The labels selecting a pool's pods (its Deployment's selector; the operator lists them by it). */
export function podLabels(pool: string): Record<string, string> {
  return { 'app.kubernetes.io/name': 'conveyor-worker', [POOL_LABEL]: pool };
}

function owned(obj: WorkerPoolObject, kind: string, apiVersion: string) {
  const labels = { 'app.kubernetes.io/name': 'conveyor-worker', 'app.kubernetes.io/managed-by': FIELD_MANAGER, [POOL_LABEL]: obj.metadata.name };
  return {
    apiVersion,
    kind,
    metadata: {
      name: obj.metadata.name,
      namespace: obj.metadata.namespace ?? 'default',
      labels,
      // Deleting the WorkerPool deletes these (Kubernetes' garbage collector).
      ownerReferences: [
        { apiVersion: `${GROUP}/${VERSION}`, kind: KIND, name: obj.metadata.name, uid: obj.metadata.uid!, controller: true, blockOwnerDeletion: true },
      ],
    },
    labels,
  };
}

/**
 * The pool's Deployment. No replicas: KEDA owns the count, and a field this manager never sets
 * is never taken back from it. The drain is the grace period: SIGTERM lets running jobs finish,
 * SHUTDOWN_GRACE_MS leaves the process 5 s before the kubelet's SIGKILL.
 */
export function deploymentManifest(obj: WorkerPoolObject, spec: WorkerPoolSpec, settings: ManifestSettings) {
  const { labels, ...base } = owned(obj, 'Deployment', 'apps/v1');
  const env = [
    { name: 'WORKER_POOL', value: obj.metadata.name },
    { name: 'WORKER_CONCURRENCY', value: String(spec.concurrency) },
    { name: 'WORKER_VISIBILITY_TIMEOUT_SECONDS', value: String(spec.visibilityTimeoutSeconds) },
    { name: 'CONVEYOR_NAMESPACE', value: settings.conveyorNamespace },
    { name: 'SHUTDOWN_GRACE_MS', value: String((spec.drainSeconds - 5) * 1000) },
    { name: 'AWS_REGION', value: settings.awsRegion },
    ...(settings.awsEndpoint ? [{ name: 'AWS_ENDPOINT_URL', value: settings.awsEndpoint }] : []),
  ];
  const ours = new Set(spec.env.map((e) => e.name));
  return {
    ...base,
    spec: {
      selector: { matchLabels: podLabels(obj.metadata.name) },
      template: {
        metadata: { labels },
        spec: {
          terminationGracePeriodSeconds: spec.drainSeconds,
          containers: [
            {
              name: 'worker',
              image: spec.image,
              // The team's env wins over the defaults above (e.g. a DATABASE_URL from its Secret).
              env: [...env.filter((e) => !ours.has(e.name)), ...spec.env],
              ports: [{ name: 'ops', containerPort: 9083 }],
              readinessProbe: { httpGet: { path: '/readyz', port: 'ops' }, periodSeconds: 5 },
              livenessProbe: { httpGet: { path: '/healthz', port: 'ops' }, periodSeconds: 10 },
            },
          ],
        },
      },
    },
  };
}

/**
 * One trigger per work queue (each class's regular and overflow lane), named by its key
 * (`normal`, `normal_overflow`), added up by a formula as the chart's own ScaledObjects do (KEDA
 * would otherwise scale on the largest trigger alone). With spec.drainScaling (and a scaling URL)
 * also the chart's time-to-drain trigger, formula and fallback (charts/conveyor/templates/keda.yaml
 * says why): replicas = max(ceil(depth / target), desired workers); a drain trigger that keeps
 * failing counts 0, an unreadable queue gives max(min, 1) replicas.
 */
export function scaledObjectManifest(
  obj: WorkerPoolObject,
  spec: WorkerPoolSpec,
  classQueues: ReadonlyArray<{ key: string; queueUrl: string }>,
  settings: ManifestSettings,
) {
  const { labels: _labels, ...base } = owned(obj, 'ScaledObject', 'keda.sh/v1alpha1');
  const depth = classQueues.map((q) => q.key).join(' + ');
  const drain = spec.drainScaling && settings.scalingUrl ? { ...spec.drainScaling, url: settings.scalingUrl.replace(/\/$/, '') } : undefined;
  const formula = drain
    ? `${classQueues.map((q) => `${q.key} == nil`).join(' || ')} ? nil : max(${depth}, (drain ?? 0) * ${spec.targetQueueDepth})`
    : depth;
  return {
    ...base,
    spec: {
      scaleTargetRef: { name: obj.metadata.name },
      minReplicaCount: spec.replicas.min,
      maxReplicaCount: spec.replicas.max,
      ...(drain
        ? { fallback: { failureThreshold: settings.scalingFailureThreshold ?? 3, replicas: Math.max(spec.replicas.min, 1), behavior: 'scalingModifiers' } }
        : {}),
      advanced: {
        scalingModifiers: { formula, target: String(spec.targetQueueDepth), metricType: 'AverageValue' },
      },
      triggers: [...classQueues.map(({ key, queueUrl }) => ({
        type: 'aws-sqs-queue',
        name: key,
        ...(settings.triggerAuthentication ? { authenticationRef: { name: settings.triggerAuthentication } } : {}),
        metadata: {
          queueURL: queueUrl,
          queueLength: String(spec.targetQueueDepth),
          awsRegion: settings.awsRegion,
          ...(settings.awsEndpoint ? { awsEndpoint: settings.awsEndpoint.replace(/\/$/, '') } : {}),
        },
      })),
      ...(drain
        ? [
            {
              type: 'metrics-api',
              name: 'drain',
              metadata: {
                url: `${drain.url}/scaling/pools/${obj.metadata.name}?concurrency=${spec.concurrency}&targetDrainSeconds=${drain.targetDrainSeconds}&leadSeconds=${drain.leadSeconds}`,
                format: 'json',
                valueLocation: 'desiredWorkers',
                targetValue: '1',
              },
            },
          ]
        : [])],
    },
  };
}

interface DeploymentView {
  metadata?: { generation?: number };
  spec?: { replicas?: number };
  status?: { observedGeneration?: number; replicas?: number; availableReplicas?: number; conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> };
}

/** The Ready condition, as the Deployment's own status says it (nothing else knows the pods). */
export function readyFromDeployment(deployment: DeploymentView | undefined): { status: 'True' | 'False' | 'Unknown'; reason: string; message: string } {
  if (!deployment) return { status: 'Unknown', reason: 'DeploymentPending', message: 'the Deployment is not created yet' };
  const s = deployment.status;
  if (!s || (s.observedGeneration ?? 0) < (deployment.metadata?.generation ?? 1)) {
    return { status: 'Unknown', reason: 'DeploymentPending', message: 'the Deployment controller has not observed the latest spec yet' };
  }
  const desired = deployment.spec?.replicas ?? 1;
  const available = s.availableReplicas ?? 0;
  const progressing = s.conditions?.find((c) => c.type === 'Progressing');
  if (progressing?.status === 'False') return { status: 'False', reason: progressing.reason ?? 'NotProgressing', message: progressing.message ?? '' };
  if (desired === 0) return { status: 'True', reason: 'ScaledToZero', message: 'no replicas: the queue is idle' };
  const availableCondition = s.conditions?.find((c) => c.type === 'Available');
  if (availableCondition?.status === 'True') return { status: 'True', reason: 'Available', message: `${available} of ${desired} replicas available` };
  return {
    status: 'False',
    reason: availableCondition?.reason ?? 'Unavailable',
    message: availableCondition?.message ?? `${available} of ${desired} replicas available`,
  };
}

/** What kubelet reports of a pod's containers (V1Pod's shape, the fields read here). */
export interface PodView {
  metadata?: { name?: string };
  spec?: { containers?: Array<{ name: string; image?: string }>; initContainers?: Array<{ name: string; image?: string }> };
  status?: {
    containerStatuses?: Array<{ name: string; image?: string; state?: { waiting?: { reason?: string; message?: string } } }>;
    initContainerStatuses?: Array<{ name: string; image?: string; state?: { waiting?: { reason?: string; message?: string } } }>;
  };
}

/**
 * Waiting reasons that no wait cures: the image cannot be pulled or named, or the container
 * cannot be configured (a Secret or ConfigMap its env names is missing). The Deployment's own
 * status says only "minimum replicas unavailable" for these; kubelet's reason is on the pod.
 */
export const STUCK_CONTAINER_REASONS = ['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'CreateContainerConfigError'] as const;

/**
 * Ready False with kubelet's reason when a pod of the pool has a container stuck waiting for one
 * of those (the first such pod by name, so the condition does not flap between pods); undefined
 * when none is, and the Deployment's status decides.
 */
export function readyFromPods(pods: readonly PodView[]): { status: 'False'; reason: string; message: string } | undefined {
  const stuck = STUCK_CONTAINER_REASONS as readonly string[];
  for (const pod of [...pods].sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''))) {
    const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
    const waiting = statuses.find((c) => stuck.includes(c.state?.waiting?.reason ?? ''));
    if (!waiting) continue;
    const { reason, message } = waiting.state!.waiting!;
    // The spec's image, as the team wrote it (the status may hold a resolved name, or none yet).
    const image = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find((c) => c.name === waiting.name)?.image ?? waiting.image ?? 'unknown';
    return {
      status: 'False',
      reason: reason!,
      message: `pod ${pod.metadata?.name ?? ''} container ${waiting.name} (image ${image}) is waiting: ${reason}${message ? `: ${message}` : ''}`,
    };
  }
  return undefined;
}

/** The job types the pool runs: its list, or the JobTypes in its namespace matching its selector. */
export function poolJobTypes(spec: WorkerPoolSpec, jobTypes: ReadonlyArray<{ namespace: string; name: string; labels: Record<string, string> }>, namespace: string): string[] {
  if (spec.jobTypes) return [...spec.jobTypes].sort();
  const match = spec.selector?.matchLabels;
  if (!match) return [];
  return jobTypes
    .filter((t) => t.namespace === namespace && Object.entries(match).every(([k, v]) => t.labels[k] === v))
    .map((t) => t.name)
    .sort();
}

/** Set to "true" on a WorkerPool that cannot drain (no worker can run): its waiting jobs are failed and it goes at once. */
export const FORCE_DELETE_ANNOTATION = 'conveyor.dev/force-delete';

export type DrainDecision =
  | { action: 'wait'; emptySince: number | undefined; condition: ConditionInput }
  | { action: 'remove'; abandon: boolean };

/**
 * What a deleted pool does next, from what its class queues hold (SQS's approximate counts:
 * waiting, received by a worker and not yet deleted, delayed). Its subscriptions are gone, so the
 * count only falls. It waits while any message is left; empty, it waits `settleMs` more with the
 * queues still empty (a delivery SNS accepted before the unsubscribe may still land, and the
 * counts lag), then removes. Forced, it removes at once, failing the waiting jobs (`abandon`).
 */
export function drainDecision(input: { left: QueueDepth; force: boolean; emptySince: number | undefined; now: number; settleMs: number }): DrainDecision {
  const { left, force, emptySince, now, settleMs } = input;
  const total = left.visible + left.inFlight + left.delayed;
  if (total > 0 && force) return { action: 'remove', abandon: true };
  if (total > 0) {
    return {
      action: 'wait',
      emptySince: undefined,
      condition: {
        type: 'Draining',
        status: 'True',
        reason: 'MessagesLeft',
        message:
          `${total} message${total === 1 ? '' : 's'} left in the pool's queues (${left.visible} waiting, ${left.inFlight} in flight, ${left.delayed} delayed); ` +
          `the workers run until none is left (annotate ${FORCE_DELETE_ANNOTATION}=true to fail their jobs and delete now)`,
      },
    };
  }
  const since = emptySince ?? now;
  if (force || now - since >= settleMs) return { action: 'remove', abandon: false };
  return {
    action: 'wait',
    emptySince: since,
    condition: { type: 'Draining', status: 'True', reason: 'Settling', message: `the queues are empty; they are removed once empty for ${Math.round(settleMs / 1000)} s` },
  };
}

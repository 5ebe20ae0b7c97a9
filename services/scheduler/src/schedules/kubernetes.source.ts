import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  makeInformer,
  setHeaderOptions,
  type CoreV1Event,
  type KubernetesListObject,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { backoffDelay } from '@conveyor/platform';
import type { Logger } from '@conveyor/platform';
import type { ScheduleController, ScheduleStatusSink } from './controller.js';
import type { ScheduleEvent } from './decide.js';
import { GROUP, KIND, PLURAL, VERSION, scheduleKey, type JobScheduleObject, type JobScheduleStatus } from './job-schedule.js';

const REPORTER = 'conveyor-scheduler';
/** A watch that stayed up this long was healthy: its failure starts the backoff over. */
const HEALTHY_WATCH_MS = 10_000;

/** The list/watch path of JobSchedules: one namespace, or all of them when none is given. */
export function schedulesPath(namespace: string): string {
  return namespace ? `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}` : `/apis/${GROUP}/${VERSION}/${PLURAL}`;
}

/** A merge patch replaces what it names: absent fields are sent as null so stale values go away. */
export function statusPatch(status: JobScheduleStatus): { status: Record<string, unknown> } {
  return {
    status: {
      lastScheduleTime: status.lastScheduleTime ?? null,
      nextScheduleTime: status.nextScheduleTime ?? null,
      lastJobId: status.lastJobId ?? null,
      observedGeneration: status.observedGeneration ?? null,
      conditions: status.conditions ?? [],
    },
  };
}

/** A core/v1 Event about a JobSchedule, as `kubectl describe` shows them. */
export function eventBody(obj: JobScheduleObject, event: ScheduleEvent, now: Date, host: string): CoreV1Event {
  const namespace = obj.metadata.namespace ?? 'default';
  return {
    metadata: { generateName: `${obj.metadata.name}.`, namespace },
    involvedObject: {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: KIND,
      name: obj.metadata.name,
      namespace,
      uid: obj.metadata.uid,
    },
    type: event.type,
    reason: event.reason,
    message: event.message.slice(0, 1024),
    source: { component: REPORTER, host },
    reportingComponent: REPORTER,
    reportingInstance: host,
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
  };
}

export function kubernetesStatusSink(kc: KubeConfig, logger: Logger, host: string): ScheduleStatusSink {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  return {
    async writeStatus(obj, status) {
      await custom.patchNamespacedCustomObjectStatus(
        { group: GROUP, version: VERSION, plural: PLURAL, namespace: obj.metadata.namespace ?? 'default', name: obj.metadata.name, body: statusPatch(status) },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    },
    async event(obj, event) {
      // An event that cannot be written must never fail the reconcile it describes.
      await core
        .createNamespacedEvent({ namespace: obj.metadata.namespace ?? 'default', body: eventBody(obj, event, new Date(), host) })
        .catch((err: unknown) => logger.warn({ err, schedule: scheduleKey(obj), reason: event.reason }, 'could not record Kubernetes event'));
    },
  };
}

export type WatchedSchedule = KubernetesObject & { spec?: unknown; status?: JobScheduleStatus };

/** The API object as the controller sees it (timestamps as the client parsed them, status as stored). */
export function toSchedule(obj: WatchedSchedule): JobScheduleObject {
  const m = obj.metadata ?? {};
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    metadata: {
      name: m.name ?? '',
      namespace: m.namespace ?? 'default',
      uid: m.uid,
      generation: m.generation,
      creationTimestamp: m.creationTimestamp,
      labels: m.labels,
      annotations: m.annotations,
    },
    spec: obj.spec,
    status: obj.status,
  };
}

/** Capped exponential backoff with jitter between informer restarts. */
export function restartDelayMs(attempt: number, maxMs = 30_000): number {
  return backoffDelay(attempt + 1, { baseMs: 500, maxMs, jitter: 'equal' });
}

/**
 * List + watch JobSchedules through an informer and feed the controller; the informer's cache
 * resyncs on every restart, so changes missed while disconnected arrive as adds/updates.
 */
export async function startKubernetesSource(options: {
  kc: KubeConfig;
  namespace: string;
  controller: ScheduleController;
  logger: Logger;
}): Promise<{ stop(): Promise<void> }> {
  const { kc, namespace, controller, logger } = options;
  const custom = kc.makeApiClient(CustomObjectsApi);
  const list = (): Promise<KubernetesListObject<WatchedSchedule>> =>
    namespace
      ? custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL })
      : custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL });
  const informer = makeInformer(kc, schedulesPath(namespace), list);
  let stopped = false;
  let attempt = 0;
  let startedAt = Date.now();
  let retry: NodeJS.Timeout | undefined;

  const upsert = (obj: WatchedSchedule) => controller.upsert(toSchedule(obj));
  informer.on('add', upsert);
  informer.on('update', upsert);
  informer.on('delete', (obj) => controller.remove(scheduleKey(toSchedule(obj))));
  // 'connect' fires before the list and the watch request are even tried, so it cannot mean healthy.
  informer.on('connect', () => logger.info({ path: schedulesPath(namespace) }, 'watching JobSchedules'));
  const start = (): void => {
    startedAt = Date.now();
    informer.start().catch(restart);
  };
  // A failed list or a broken watch both land here (the informer stops itself then); one pending
  // restart at a time. A watch that held for a while counts as healthy and resets the backoff.
  const restart = (err: unknown): void => {
    if (stopped || retry) return;
    if (Date.now() - startedAt > HEALTHY_WATCH_MS) attempt = 0;
    const delay = restartDelayMs(attempt++);
    logger.warn({ err, delayMs: Math.round(delay) }, 'JobSchedule list/watch failed; restarting');
    retry = setTimeout(() => {
      retry = undefined;
      start();
    }, delay);
  };
  informer.on('error', restart);
  start();
  return {
    stop: async () => {
      stopped = true;
      if (retry) clearTimeout(retry);
      await informer.stop();
    },
  };
}

export function loadKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return kc;
}

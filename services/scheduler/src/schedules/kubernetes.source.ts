import { CoreV1Api, CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions, type CoreV1Event, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '@conveyor/platform';
import { resourcesPath, watchResources } from '../operator/watch.js';
import type { ScheduleController, ScheduleStatusSink } from './controller.js';
import type { ScheduleEvent } from './decide.js';
import { GROUP, KIND, PLURAL, VERSION, scheduleKey, type JobScheduleObject, type JobScheduleStatus } from './job-schedule.js';

const REPORTER = 'conveyor-scheduler';
/** The list/watch path of JobSchedules: one namespace, or all of them when none is given. */
export function schedulesPath(namespace: string): string {
  return resourcesPath(PLURAL, namespace);
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
  const { controller } = options;
  return watchResources<WatchedSchedule>({
    ...options,
    plural: PLURAL,
    kind: KIND,
    onUpsert: (obj) => controller.upsert(toSchedule(obj)),
    onDelete: (obj) => controller.remove(scheduleKey(toSchedule(obj))),
  });
}

export function loadKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return kc;
}

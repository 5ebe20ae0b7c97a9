import { CustomObjectsApi, makeInformer, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import { backoffDelay } from '@conveyor/platform';
import type { Logger } from '@conveyor/platform';

export const GROUP = 'conveyor.dev';
export const VERSION = 'v1alpha1';
/** A watch that stayed up this long was healthy: its failure starts the backoff over. */
const HEALTHY_WATCH_MS = 10_000;

/** The list/watch path of a conveyor.dev resource: one namespace, or all of them when none is given. */
export function resourcesPath(plural: string, namespace: string): string {
  return namespace ? `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${plural}` : `/apis/${GROUP}/${VERSION}/${plural}`;
}

/** Capped exponential backoff with jitter between informer restarts. */
export function restartDelayMs(attempt: number, maxMs = 30_000): number {
  return backoffDelay(attempt + 1, { baseMs: 500, maxMs, jitter: 'equal' });
}

export interface WatchOptions<T extends KubernetesObject> {
  kc: KubeConfig;
  plural: string;
  kind: string;
  namespace: string;
  logger: Logger;
  onUpsert(obj: T): void;
  onDelete(obj: T): void;
}

/**
 * List + watch one conveyor.dev resource through an informer (JobSchedules, JobTypes, WorkerPools);
 * the informer's cache resyncs on every restart, so changes missed while disconnected arrive as
 * adds/updates.
 */
export async function watchResources<T extends KubernetesObject>(options: WatchOptions<T>): Promise<{ stop(): Promise<void> }> {
  const { kc, plural, kind, namespace, logger } = options;
  const custom = kc.makeApiClient(CustomObjectsApi);
  const list = (): Promise<KubernetesListObject<T>> =>
    namespace
      ? custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural })
      : custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural });
  const path = resourcesPath(plural, namespace);
  const informer = makeInformer<T>(kc, path, list);
  let stopped = false;
  let attempt = 0;
  let startedAt = Date.now();
  let retry: NodeJS.Timeout | undefined;

  informer.on('add', (obj) => options.onUpsert(obj));
  informer.on('update', (obj) => options.onUpsert(obj));
  informer.on('delete', (obj) => options.onDelete(obj));
  // 'connect' fires before the list and the watch request are even tried, so it cannot mean healthy.
  informer.on('connect', () => logger.info({ path }, `watching ${kind}s`));
  // Resolves once the first list was handed out (or failed and a restart is scheduled), so a caller
  // may rely on the objects that existed at start being known.
  const start = (): Promise<void> => {
    startedAt = Date.now();
    return informer.start().catch(restart);
  };
  // A failed list or a broken watch both land here (the informer stops itself then); one pending
  // restart at a time. A watch that held for a while counts as healthy and resets the backoff.
  const restart = (err: unknown): void => {
    if (stopped || retry) return;
    if (Date.now() - startedAt > HEALTHY_WATCH_MS) attempt = 0;
    const delay = restartDelayMs(attempt++);
    logger.warn({ err, delayMs: Math.round(delay) }, `${kind} list/watch failed; restarting`);
    retry = setTimeout(() => {
      retry = undefined;
      void start();
    }, delay);
  };
  informer.on('error', restart);
  await start();
  return {
    stop: async () => {
      stopped = true;
      if (retry) clearTimeout(retry);
      await informer.stop();
    },
  };
}

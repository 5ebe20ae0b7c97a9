import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '@conveyor/platform';
import { GROUP, VERSION } from './watch.js';

/** A conveyor.dev object as the operator reads it from the informer. */
export interface ResourceObject<Spec = unknown, Status = unknown> extends KubernetesObject {
  metadata: NonNullable<KubernetesObject['metadata']> & { name: string };
  spec?: Spec;
  status?: Status;
}

export const keyOf = (obj: KubernetesObject): string => `${obj.metadata?.namespace ?? 'default'}/${obj.metadata?.name ?? ''}`;

/** What the operator writes back to the API server about one of its objects. */
export interface ResourceWriter {
  /** Merge-patches the status subresource (absent fields sent as null by the caller). */
  writeStatus(obj: ResourceObject, status: Record<string, unknown>): Promise<void>;
  /** Replaces the finalizers, guarded by the resourceVersion read: a 409 means a newer object is on its way. */
  setFinalizers(obj: ResourceObject, finalizers: string[]): Promise<void>;
}

export function kubernetesWriter(kc: KubeConfig, plural: string): ResourceWriter {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  const ref = (obj: ResourceObject) => ({ group: GROUP, version: VERSION, plural, namespace: obj.metadata.namespace ?? 'default', name: obj.metadata.name });
  return {
    async writeStatus(obj, status) {
      await custom.patchNamespacedCustomObjectStatus({ ...ref(obj), body: { status } }, merge);
    },
    async setFinalizers(obj, finalizers) {
      await custom.patchNamespacedCustomObject({ ...ref(obj), body: { metadata: { finalizers, resourceVersion: obj.metadata.resourceVersion } } }, merge);
    },
  };
}

/**
 * Reconciles objects one key at a time: reconciles of one key never overlap, a newer object
 * replaces a queued one, and a failed reconcile is retried after `retryMs` (or when the object
 * changes). `acting` is false once stopped or no longer leading.
 */
export class KeyedQueue<T> {
  private readonly latest = new Map<string, T>();
  private readonly chains = new Map<string, Promise<void>>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly reconcile: (key: string, obj: T) => Promise<void>,
    private readonly options: { logger: Logger; retryMs: number; signal?: AbortSignal; onError?: () => void },
  ) {}

  get acting(): boolean {
    return !this.stopped && !this.options.signal?.aborted;
  }

  set(key: string, obj: T): void {
    this.latest.set(key, obj);
    this.enqueue(key);
  }

  forget(key: string): void {
    this.latest.delete(key);
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
  }

  get(key: string): T | undefined {
    return this.latest.get(key);
  }

  values(): T[] {
    return [...this.latest.values()];
  }

  enqueue(key: string, delayMs = 0): void {
    if (!this.acting || !this.latest.has(key)) return;
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
    if (delayMs > 0) {
      this.timers.set(key, setTimeout(() => this.enqueue(key), delayMs));
      return;
    }
    const chain = (this.chains.get(key) ?? Promise.resolve()).then(async () => {
      const obj = this.latest.get(key);
      if (obj === undefined || !this.acting) return;
      try {
        await this.reconcile(key, obj);
      } catch (error) {
        this.options.onError?.();
        this.options.logger.error({ err: error, object: key }, 'reconcile failed; retrying');
        this.enqueue(key, this.options.retryMs);
      }
    });
    this.chains.set(key, chain);
  }

  /** Resolves once every reconcile queued so far has finished. */
  async idle(): Promise<void> {
    await Promise.all(this.chains.values());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    await this.idle();
  }
}

/** The API server's HTTP status of a failed client call, if it was one. */
export function apiStatus(error: unknown): number | undefined {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'number' ? code : undefined;
}

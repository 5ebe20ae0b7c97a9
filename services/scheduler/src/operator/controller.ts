import type { Logger } from '@conveyor/platform';
import { apiStatus, KeyedQueue, keyOf, type ResourceObject, type ResourceWriter } from './resource.js';
import { watchResources, type WatchOptions } from './watch.js';

export interface ResourceControllerOptions {
  writer: ResourceWriter;
  logger: Logger;
  retryMs?: number;
  /** Aborted when this replica stops leading: from then on nothing is written. */
  signal?: AbortSignal;
  onError?: () => void;
  now?: () => Date;
}

/**
 * What the operator's controllers share: one reconcile at a time per object (KeyedQueue), the
 * finalizer's life cycle, and writes that give way to a newer object (409) or a gone one (404).
 */
export abstract class ResourceController<T extends ResourceObject> {
  protected readonly queue: KeyedQueue<T>;
  protected readonly now: () => Date;

  constructor(private readonly base: ResourceControllerOptions) {
    this.now = base.now ?? (() => new Date());
    this.queue = new KeyedQueue((_key, obj) => this.reconcile(obj), {
      logger: base.logger,
      retryMs: base.retryMs ?? 5_000,
      signal: base.signal,
      onError: base.onError,
    });
  }

  protected abstract reconcile(obj: T): Promise<void>;

  /** Gone from the API server (its finalizer already removed). */
  protected removed(_obj: T): void {}

  upsert(obj: T): void {
    this.queue.set(keyOf(obj), obj);
  }

  remove(obj: T): void {
    this.queue.forget(keyOf(obj));
    this.removed(obj);
  }

  /** Reconciles every object again. */
  requeueAll(): void {
    for (const obj of this.queue.values()) this.queue.enqueue(keyOf(obj));
  }

  /**
   * Objects that claim one name (a job type, a tenant) in different namespaces: the oldest owns
   * it. The oldest live object other than obj claiming obj's name, if it is older than obj.
   */
  protected olderClaim(obj: T, nameOf: (o: T) => string): T | undefined {
    const name = nameOf(obj);
    return this.queue
      .values()
      .filter((o) => keyOf(o) !== keyOf(obj) && nameOf(o) === name && !o.metadata.deletionTimestamp)
      .find((o) => olderThan(o, obj));
  }

  /** Reconciles again every object claiming `name` (one may own it now). */
  protected requeueClaims(name: string, nameOf: (o: T) => string): void {
    for (const other of this.queue.values()) if (nameOf(other) === name) this.queue.enqueue(keyOf(other));
  }

  idle(): Promise<void> {
    return this.queue.idle();
  }

  stop(): Promise<void> {
    return this.queue.stop();
  }

  /**
   * The finalizer's part of a reconcile: on a deleted object, runs `cleanup` and lets the object
   * go, unless cleanup answers false (not done yet: it has queued the next look itself); on a live
   * one without it, adds it (the update this causes reconciles again). True when that was the
   * whole reconcile.
   */
  protected async finalized(obj: T, finalizer: string, cleanup: () => Promise<boolean | void>): Promise<boolean> {
    const finalizers = obj.metadata.finalizers ?? [];
    if (obj.metadata.deletionTimestamp) {
      if (!finalizers.includes(finalizer)) return true;
      if ((await cleanup()) === false) return true;
      if (this.queue.acting) await this.guard(() => this.base.writer.setFinalizers(obj, finalizers.filter((f) => f !== finalizer)));
      return true;
    }
    if (finalizers.includes(finalizer)) return false;
    if (this.queue.acting) await this.guard(() => this.base.writer.setFinalizers(obj, [...finalizers, finalizer]));
    return true;
  }

  /** Merge-patches the status unless this replica stopped leading. */
  protected async writeStatus(obj: T, status: Record<string, unknown>): Promise<void> {
    if (this.queue.acting) await this.guard(() => this.base.writer.writeStatus(obj, status));
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

/** Older first; the key breaks ties so every replica picks the same owner. */
export function olderThan(a: ResourceObject, b: ResourceObject): boolean {
  const ta = new Date(a.metadata.creationTimestamp ?? 0).getTime();
  const tb = new Date(b.metadata.creationTimestamp ?? 0).getTime();
  if (ta !== tb) return ta < tb;
  return `${a.metadata.namespace}/${a.metadata.name}` < `${b.metadata.namespace}/${b.metadata.name}`;
}

/** Feeds a controller from a list + watch of its resource; `stop` ends both. */
export async function watchInto<T extends ResourceObject, C extends ResourceController<T>>(
  controller: C,
  options: Omit<WatchOptions<T>, 'onUpsert' | 'onDelete'>,
): Promise<{ controller: C; stop(): Promise<void> }> {
  const watch = await watchResources<T>({ ...options, onUpsert: (obj) => controller.upsert(obj), onDelete: (obj) => controller.remove(obj) });
  return {
    controller,
    stop: async () => {
      // The controller first: its timers stop at once, while the watch winds down.
      const stopped = controller.stop();
      await watch.stop();
      await stopped;
    },
  };
}

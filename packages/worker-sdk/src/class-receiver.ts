import type { Message } from '@aws-sdk/client-sqs';
import { PRIORITY_CLASSES, type PriorityClass } from '@conveyor/platform';
import { leaderCycle, receiveOrder } from './receive-order.js';

/** One queue of a pool's class, as resolved. */
export interface ClassQueue {
  priority: PriorityClass;
  url: string;
}

/** One ReceiveMessage call: up to `max` messages from `url`, waiting up to `waitSeconds`. */
export type ReceiveFrom = (queue: ClassQueue, max: number, waitSeconds: number, signal?: AbortSignal) => Promise<Message[]>;

const rank = (priority: PriorityClass) => PRIORITY_CLASSES.indexOf(priority);

/**
 * Receives from a pool's class queues in weighted order (receive-order.ts) without adding latency
 * when they are empty:
 * - with work waiting, short polls (no wait) in this turn's order; the first class that has
 *   messages gives them all (up to the free slots), so urgent work is asked for on 7 turns of 10
 *   and the lower classes keep theirs;
 * - with every queue empty, one long poll per class at once, and the first answer is taken, so
 *   work of any class starts the moment it arrives, as a single queue's long poll did.
 * The other long polls are not aborted when one answers (an aborted receive can still take
 * messages on the server's side, hidden for a whole visibility timeout): whatever they bring waits
 * here, highest class first, and is handed out before anything is asked again. Only `signal` (the
 * worker stopping) aborts them, as it aborted the one long poll of before. At most one long poll
 * per class is open, so what waits here is bounded by the classes times 10 messages.
 */
export class ClassReceiver {
  private turn = 0;
  private readonly cycle: PriorityClass[];
  private readonly open = new Map<PriorityClass, Promise<void>>();
  private spilled: Array<{ priority: PriorityClass; message: Message }> = [];
  private lastError: unknown;
  private arrived: (() => void) | undefined;

  constructor(
    private readonly receiveFrom: ReceiveFrom,
    weights?: Readonly<Record<PriorityClass, number>>,
  ) {
    this.cycle = leaderCycle(weights);
  }

  async receive(queues: readonly ClassQueue[], max: number, waitSeconds: number, signal?: AbortSignal): Promise<Message[]> {
    if (this.spilled.length > 0) return this.take(max);
    const order = receiveOrder(this.turn++, this.cycle).flatMap((p) => queues.filter((q) => q.priority === p));
    if (order.length === 1) return this.receiveFrom(order[0]!, max, waitSeconds, signal);
    for (const queue of order) {
      const messages = await this.receiveFrom(queue, max, 0, signal);
      if (messages.length > 0) return messages;
    }
    if (waitSeconds === 0 || signal?.aborted) return [];
    this.lastError = undefined;
    for (const queue of order) if (!this.open.has(queue.priority)) this.longPoll(queue, max, waitSeconds, signal);
    // An open poll of an earlier call may have answered during the short polls.
    if (this.spilled.length > 0) return this.take(max);
    await new Promise<void>((resolve) => {
      const done = () => {
        signal?.removeEventListener('abort', done);
        this.arrived = undefined;
        resolve();
      };
      this.arrived = done;
      signal?.addEventListener('abort', done, { once: true });
    });
    if (this.spilled.length === 0 && this.open.size === 0 && this.lastError !== undefined) throw this.lastError;
    return this.take(max);
  }

  /** Messages received and not handed out (at a pause or a stop, to give back). */
  takeAll(): Message[] {
    return this.take(Number.POSITIVE_INFINITY);
  }

  /** Waits for the open long polls to end (each within its wait), then hands over what they brought. */
  async settle(): Promise<Message[]> {
    await Promise.all([...this.open.values()]);
    return this.takeAll();
  }

  private longPoll(queue: ClassQueue, max: number, waitSeconds: number, signal?: AbortSignal): void {
    const poll = this.receiveFrom(queue, max, waitSeconds, signal)
      .then(
        (messages) => {
          for (const message of messages) this.spilled.push({ priority: queue.priority, message });
        },
        (error: unknown) => {
          this.lastError = error;
        },
      )
      .finally(() => {
        this.open.delete(queue.priority);
        if (this.spilled.length > 0 || this.open.size === 0) this.arrived?.();
      });
    this.open.set(queue.priority, poll);
  }

  private take(max: number): Message[] {
    this.spilled.sort((a, b) => rank(a.priority) - rank(b.priority));
    return this.spilled.splice(0, max).map((s) => s.message);
  }
}

import type { Message } from '@aws-sdk/client-sqs';
import { PRIORITY_CLASSES, type PriorityClass } from '@conveyor/platform';
import { laneOrder, leaderCycle, receiveOrder, type Lane } from './receive-order.js';

/** One queue of a pool's class, as resolved: its regular lane or its overflow lane (regular when not said). */
export interface ClassQueue {
  priority: PriorityClass;
  lane?: Lane;
  url: string;
}

/** One ReceiveMessage call: up to `max` messages from `url`, waiting up to `waitSeconds`. */
export type ReceiveFrom = (queue: ClassQueue, max: number, waitSeconds: number, signal?: AbortSignal) => Promise<Message[]>;

/** Highest class first, and within a class the regular lane first. */
/**
 * How long a queue that answered a short poll with nothing is left out of the next short polls:
 * EMPTY_RECHECK_MS after its first empty answer, twice as long after each further one in a row, at
 * most EMPTY_RECHECK_MAX_MS, and back to the start once it brings messages. Six queues a pool
 * (three classes, two lanes) would otherwise cost up to five empty calls per receive while one
 * lane is backlogged: with a fixed 20 ms, up to 250 empty calls a second, 0.21 of the worker's
 * 0.46 SQS calls per job in a drain (bench/README.md, "Cost per job"). A job arriving in a queue
 * left out waits at most EMPTY_RECHECK_MAX_MS longer, and only while other queues have work (with
 * none, every queue is long-polled); a class that keeps receiving work (a high job every 50 ms)
 * is asked again within 20-40 ms.
 */
export const EMPTY_RECHECK_MS = 20;
export const EMPTY_RECHECK_MAX_MS = 160;

/** How long a queue is left out after its `streak`-th empty answer in a row (1 = the first). */
export function emptyRecheckMs(streak: number): number {
  return Math.min(EMPTY_RECHECK_MAX_MS, EMPTY_RECHECK_MS * 2 ** Math.min(10, Math.max(0, streak - 1)));
}

const rank = (queue: ClassQueue) => PRIORITY_CLASSES.indexOf(queue.priority) * 2 + (queue.lane === 'overflow' ? 1 : 0);

/**
 * Receives from a pool's class queues in weighted order (receive-order.ts) without adding latency
 * when they are empty. A class's queues are its regular lane and its overflow lane; the regular
 * one is asked first but for every OVERFLOW_EVERY-th time the class is asked (laneOrder):
 * - with work waiting, short polls (no wait) in this turn's order; the first class that has
 *   messages gives them all (up to the free slots), so urgent work is asked for on 7 turns of 10
 *   and the lower classes keep theirs; a queue that just answered empty is skipped for
 *   EMPTY_RECHECK_MS, doubled for each empty answer in a row up to EMPTY_RECHECK_MAX_MS;
 * - with every queue empty, one long poll per class at once, and the first answer is taken, so
 *   work of any class starts the moment it arrives, as a single queue's long poll did.
 * The other long polls are not aborted when one answers (an aborted receive can still take
 * messages on the server's side, hidden for a whole visibility timeout): whatever they bring waits
 * here, highest class first, and is handed out before anything is asked again. Only `signal` (the
 * worker stopping) aborts them, as it aborted the one long poll of before. At most one long poll
 * per queue is open, so what waits here is bounded by the queues times 10 messages.
 */
export class ClassReceiver {
  private turn = 0;
  private readonly cycle: PriorityClass[];
  /** How many times each class's queues were asked: its lanes' order (laneOrder). */
  private readonly asked: Record<PriorityClass, number> = { high: 0, normal: 0, low: 0 };
  private readonly open = new Map<string, Promise<void>>();
  /** Until when (ms) each queue that answered empty is left out of short polls, and its empty answers in a row. */
  private readonly emptyUntil = new Map<string, number>();
  private readonly emptyStreak = new Map<string, number>();
  private spilled: Array<{ rank: number; message: Message }> = [];
  private lastError: unknown;
  private arrived: (() => void) | undefined;

  constructor(
    private readonly receiveFrom: ReceiveFrom,
    weights?: Readonly<Record<PriorityClass, number>>,
    private readonly now: () => number = Date.now,
  ) {
    this.cycle = leaderCycle(weights);
  }

  async receive(queues: readonly ClassQueue[], max: number, waitSeconds: number, signal?: AbortSignal): Promise<Message[]> {
    if (this.spilled.length > 0) return this.take(max);
    if (queues.length === 1) return this.receiveFrom(queues[0]!, max, waitSeconds, signal);
    for (const priority of receiveOrder(this.turn++, this.cycle)) {
      const lanes = queues.filter((q) => q.priority === priority);
      if (lanes.length === 0) continue;
      const order = lanes.length === 1 ? lanes : laneOrder(this.asked[priority]++).flatMap((lane) => lanes.filter((q) => (q.lane ?? 'regular') === lane));
      for (const queue of order) {
        if ((this.emptyUntil.get(queue.url) ?? 0) > this.now()) continue;
        const messages = await this.receiveFrom(queue, max, 0, signal);
        if (messages.length > 0) {
          this.emptyStreak.delete(queue.url);
          return messages;
        }
        const streak = (this.emptyStreak.get(queue.url) ?? 0) + 1;
        this.emptyStreak.set(queue.url, streak);
        this.emptyUntil.set(queue.url, this.now() + emptyRecheckMs(streak));
      }
    }
    if (waitSeconds === 0 || signal?.aborted) return [];
    this.lastError = undefined;
    for (const queue of queues) if (!this.open.has(queue.url)) this.longPoll(queue, max, waitSeconds, signal);
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
          for (const message of messages) this.spilled.push({ rank: rank(queue), message });
          if (messages.length > 0) {
            this.emptyUntil.delete(queue.url);
            this.emptyStreak.delete(queue.url);
          }
        },
        (error: unknown) => {
          this.lastError = error;
        },
      )
      .finally(() => {
        this.open.delete(queue.url);
        if (this.spilled.length > 0 || this.open.size === 0) this.arrived?.();
      });
    this.open.set(queue.url, poll);
  }

  private take(max: number): Message[] {
    this.spilled.sort((a, b) => a.rank - b.rank);
    return this.spilled.splice(0, max).map((s) => s.message);
  }
}

import type { Message } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import type { PriorityClass } from '@conveyor/platform';
import { ClassReceiver, EMPTY_RECHECK_MAX_MS, EMPTY_RECHECK_MS, emptyRecheckMs, type ClassQueue } from './class-receiver.js';
import { OVERFLOW_EVERY } from './receive-order.js';

/** In-memory queues by URL: what a receive of up to `max` takes from the front (the SQS calls are tested against fauxqs). */
function queues(backlog: Record<string, number>) {
  const waiting = new Map(Object.entries(backlog).map(([url, n]) => [url, Array.from({ length: n }, (_, i) => ({ MessageId: `${url}#${i}` }) as Message)]));
  const calls: string[] = [];
  const receiveFrom = (queue: ClassQueue, max: number): Promise<Message[]> => {
    calls.push(queue.url);
    return Promise.resolve(waiting.get(queue.url)!.splice(0, max));
  };
  const add = (url: string, id: string) => waiting.get(url)!.push({ MessageId: `${url}#${id}` });
  return { receiveFrom, calls, add, left: (url: string) => waiting.get(url)!.length };
}

const lanes = (priority: PriorityClass): ClassQueue[] => [
  { priority, lane: 'regular', url: `${priority}` },
  { priority, lane: 'overflow', url: `${priority}-overflow` },
];

describe('ClassReceiver with overflow lanes', () => {
  it("serves a class's regular lane first and still gives its overflow lane one receive in OVERFLOW_EVERY", async () => {
    const q = queues({ normal: 1_000, 'normal-overflow': 1_000 });
    const receiver = new ClassReceiver(q.receiveFrom);
    const from: string[] = [];
    for (let i = 0; i < 100; i++) from.push(...(await receiver.receive(lanes('normal'), 1, 0)).map((m) => m.MessageId!.split('#')[0]!));
    expect(from.filter((url) => url === 'normal-overflow')).toHaveLength(100 / OVERFLOW_EVERY);
    expect(from.filter((url) => url === 'normal')).toHaveLength(100 - 100 / OVERFLOW_EVERY);
  });

  it('drains the overflow lane at full speed when the regular lane is empty, and a job arriving there is taken next', async () => {
    const q = queues({ normal: 0, 'normal-overflow': 50 });
    const receiver = new ClassReceiver(q.receiveFrom);
    for (let i = 0; i < 10; i++) expect(await receiver.receive(lanes('normal'), 1, 0)).toHaveLength(1);
    expect(q.left('normal-overflow')).toBe(40);
  });

  it('keeps priorities: a high backlog in either lane goes ahead of normal work in its regular lane', async () => {
    const q = queues({ high: 0, 'high-overflow': 1_000, normal: 1_000, 'normal-overflow': 0, low: 0, 'low-overflow': 0 });
    const receiver = new ClassReceiver(q.receiveFrom);
    const all = [...lanes('high'), ...lanes('normal'), ...lanes('low')];
    const from: string[] = [];
    for (let i = 0; i < 100; i++) from.push(...(await receiver.receive(all, 1, 0)).map((m) => m.MessageId!.split('#')[0]!));
    // High leads 7 turns of 10 (receive-order.ts) and takes empty low's, whichever of its lanes
    // holds the work; normal keeps its 2.
    expect(from.filter((url) => url === 'high-overflow')).toHaveLength(80);
    expect(from.filter((url) => url === 'normal')).toHaveLength(20);
  });

  it('leaves a queue that answered empty out of the short polls for a moment, then asks it again', async () => {
    const q = queues({ normal: 0, 'normal-overflow': 100 });
    let clock = 0;
    const receiver = new ClassReceiver(q.receiveFrom, undefined, () => clock);
    await receiver.receive(lanes('normal'), 1, 0);
    q.calls.length = 0;
    for (let i = 0; i < 10; i++) await receiver.receive(lanes('normal'), 1, 0);
    // The empty regular lane is not asked while it is left out: one call per receive.
    expect(q.calls).toEqual(Array<string>(10).fill('normal-overflow'));
    q.add('normal', 'quiet');
    clock += EMPTY_RECHECK_MS;
    // Its next turn after the pause takes the job that arrived meanwhile.
    const next = [];
    for (let i = 0; i < OVERFLOW_EVERY; i++) next.push(...(await receiver.receive(lanes('normal'), 1, 0)).map((m) => m.MessageId));
    expect(next).toContain('normal#quiet');
  });

  it('leaves a queue that stays empty out for longer each time, up to the cap, and asks it at the start again once it had work', async () => {
    expect([1, 2, 3, 4, 5, 50].map(emptyRecheckMs)).toEqual([20, 40, 80, EMPTY_RECHECK_MAX_MS, EMPTY_RECHECK_MAX_MS, EMPTY_RECHECK_MAX_MS]);
    const q = queues({ normal: 0, 'normal-overflow': 1_000 });
    let clock = 0;
    const receiver = new ClassReceiver(q.receiveFrom, undefined, () => clock);
    /** Receives one message every millisecond for `ms`; the times (since `from`) at which the empty regular lane was asked. */
    const askedAt = async (ms: number) => {
      const from = clock;
      const times: number[] = [];
      for (; clock < from + ms; clock++) {
        q.calls.length = 0;
        await receiver.receive(lanes('normal'), 1, 0);
        if (q.calls.includes('normal')) times.push(clock - from);
      }
      return times;
    };
    // 0, then 20, 40, 80 and 160 ms later, then every 160 ms: 9 calls in a second instead of 50.
    expect(await askedAt(1_000)).toEqual([0, 20, 60, 140, 300, 460, 620, 780, 940]);
    q.add('normal', 'quiet');
    clock += EMPTY_RECHECK_MAX_MS;
    await askedAt(1);
    // It brought a job: the next empty answer leaves it out for EMPTY_RECHECK_MS again.
    expect(await askedAt(EMPTY_RECHECK_MS * 3)).toEqual([0, EMPTY_RECHECK_MS]);
  });
});

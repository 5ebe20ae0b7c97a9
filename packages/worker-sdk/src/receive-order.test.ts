import { describe, expect, it } from 'vitest';
import { DEFAULT_RECEIVE_WEIGHTS, laneOrder, leaderCycle, OVERFLOW_EVERY, parseReceiveWeights, receiveOrder } from './receive-order.js';

describe('receive order', () => {
  it('lets each class lead exactly its weight of turns per cycle, spread out', () => {
    const cycle = leaderCycle();
    expect(cycle).toHaveLength(10);
    const count = (c: string) => cycle.filter((x) => x === c).length;
    expect([count('high'), count('normal'), count('low')]).toEqual([7, 2, 1]);
    // High leads first (a pool's first receive goes to urgent work), never more than 3 times in a
    // row across the cycle's wrap, and normal leads at least every 6th turn.
    expect(cycle[0]).toBe('high');
    const twice = [...cycle, ...cycle];
    expect(twice.join(' ')).not.toMatch(/(high ){3}high/);
    const normalTurns = twice.flatMap((c, i) => (c === 'normal' ? [i] : []));
    expect(Math.max(...normalTurns.slice(1).map((t, i) => t - normalTurns[i]!))).toBeLessThanOrEqual(6);
  });

  it('asks the leader first, then the others highest first', () => {
    const cycle = leaderCycle();
    const orders = cycle.map((_, turn) => receiveOrder(turn, cycle));
    for (const order of orders) expect([...order].sort()).toEqual(['high', 'low', 'normal']);
    expect(orders.filter((o) => o[0] === 'low')).toEqual([['low', 'high', 'normal']]);
    expect(orders.filter((o) => o[0] === 'normal')).toEqual([
      ['normal', 'high', 'low'],
      ['normal', 'high', 'low'],
    ]);
    // The cycle repeats: turn n and n + 10 ask alike.
    expect(receiveOrder(13, cycle)).toEqual(receiveOrder(3, cycle));
  });

  it('guarantees the lower classes their share while high work never runs out', () => {
    // Every queue backlogged: who gets served over 1,000 receives.
    const cycle = leaderCycle({ high: 5, normal: 3, low: 2 });
    const served = { high: 0, normal: 0, low: 0 };
    for (let turn = 0; turn < 1_000; turn++) served[receiveOrder(turn, cycle)[0]!]++;
    expect(served).toEqual({ high: 500, normal: 300, low: 200 });
  });

  it('refuses a weight that would starve a class, and parses the setting', () => {
    expect(() => leaderCycle({ ...DEFAULT_RECEIVE_WEIGHTS, low: 0 })).toThrow(/low must be a whole number of at least 1/);
    expect(parseReceiveWeights('high=8, normal=3, low=1')).toEqual({ high: 8, normal: 3, low: 1 });
    expect(() => parseReceiveWeights('high=8,normal=3')).toThrow(/low/);
    expect(() => parseReceiveWeights('urgent=1,high=1,normal=1,low=1')).toThrow(/unknown class "urgent"/);
  });
});

describe('lane order within a class', () => {
  it('asks the regular lane first but for one time in OVERFLOW_EVERY, counted per class', () => {
    const firsts = Array.from({ length: 4 * OVERFLOW_EVERY }, (_, asked) => laneOrder(asked)[0]);
    expect(firsts.filter((lane) => lane === 'overflow')).toHaveLength(4);
    expect(firsts.slice(0, OVERFLOW_EVERY)).toEqual([...Array<string>(OVERFLOW_EVERY - 1).fill('regular'), 'overflow']);
    for (let asked = 0; asked < 20; asked++) expect([...laneOrder(asked)].sort()).toEqual(['overflow', 'regular']);
  });
});

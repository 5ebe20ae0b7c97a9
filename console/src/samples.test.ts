import { describe, expect, it } from 'vitest';
import { addSample, linePath, WINDOW_MS, type Sample } from './samples';

const at = (minutesAgo: number, depth: number, throughput = 0): Sample => ({ at: 10 * WINDOW_MS - minutesAgo * 60_000, depth, throughput });

describe("a pool's samples over the last hour", () => {
  it('keeps an hour, in time order, one sample per instant', () => {
    let history: Sample[] = [];
    for (const sample of [at(70, 1), at(30, 2), at(10, 3), at(10, 4), at(20, 5)]) history = addSample(history, sample);
    expect(history.map((s) => s.depth)).toEqual([2, 5, 4]);
  });

  it('draws the samples by time across the box, scaled to the highest value', () => {
    const now = 10 * WINDOW_MS;
    const path = linePath([at(60, 0), at(30, 5), at(0, 10)], (s) => s.depth, { width: 120, height: 40, now, max: 10 });
    expect(path).toBe('M0.0,40.0 L60.0,20.0 L120.0,0.0');
    expect(linePath([], (s) => s.depth, { width: 120, height: 40, now, max: 0 })).toBe('');
  });
});

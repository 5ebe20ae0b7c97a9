import { describe, expect, it } from 'vitest';
import { historySamples, linePath, type Sample } from './samples';

const HOUR = 60 * 60 * 1000;
const NOW = 10 * HOUR;
const at = (minutesAgo: number, depth: number | null, throughput: number | null = 0): Sample => ({ at: NOW - minutesAgo * 60_000, depth, throughput });

describe("a pool's chart over the last hour", () => {
  it('draws the samples by time across the box, scaled to the highest value', () => {
    const path = linePath([at(60, 0), at(30, 5), at(0, 10)], (s) => s.depth, { width: 120, height: 40, now: NOW, max: 10 }, HOUR);
    expect(path).toBe('M0.0,40.0 L60.0,20.0 L120.0,0.0');
    expect(linePath([], (s) => s.depth, { width: 120, height: 40, now: NOW, max: 0 }, HOUR)).toBe('');
  });

  it('breaks the line where no worker reported', () => {
    const path = linePath([at(60, 2), at(45, null), at(30, 2), at(15, 4)], (s) => s.depth, { width: 120, height: 40, now: NOW, max: 4 }, HOUR);
    expect(path).toBe('M0.0,20.0 M60.0,20.0 L90.0,0.0');
  });

  it("turns the api's history points into samples", () => {
    const samples = historySamples({
      pool: 'default',
      from: '2030-01-31T08:00:00.000Z',
      to: '2030-01-31T09:00:00.000Z',
      stepSeconds: 30,
      points: [{ at: '2030-01-31T08:59:30.000Z', waiting: 140, donePerSecond: null }],
    });
    expect(samples).toEqual([{ at: Date.parse('2030-01-31T08:59:30.000Z'), depth: 140, throughput: null }]);
  });
});

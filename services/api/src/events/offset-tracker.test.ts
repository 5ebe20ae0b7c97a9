import { describe, expect, it } from 'vitest';
import { OffsetTracker } from './offset-tracker.js';

describe('OffsetTracker', () => {
  it('commits no further than the oldest message still in flight', () => {
    const t = new OffsetTracker();
    ['10', '11', '12'].forEach((o) => t.begin(0, o));
    t.done(0, '10');
    t.done(0, '12');
    expect(t.committable(0)).toBe('11');
    t.markCommitted(0, '11');
    expect(t.committable(0)).toBeUndefined();
    t.done(0, '11');
    expect(t.committable(0)).toBe('13');
  });

  it('keeps partitions apart and forgets revoked ones', () => {
    const t = new OffsetTracker();
    t.begin(0, '5');
    t.begin(1, '7');
    t.done(1, '7');
    expect(t.committable(0)).toBe('5');
    expect(t.committable(1)).toBe('8');
    expect(t.inFlight).toBe(1);
    t.retain([1]);
    expect(t.partitionsSeen).toEqual([1]);
    expect(t.committable(0)).toBeUndefined();
  });

  it('treats a re-delivered offset as one message', () => {
    const t = new OffsetTracker();
    t.begin(0, '3');
    t.begin(0, '3');
    t.done(0, '3');
    expect(t.inFlight).toBe(0);
    expect(t.committable(0)).toBe('4');
  });
});

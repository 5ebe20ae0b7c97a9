import { describe, expect, it } from 'vitest';
import { handedOff, HandoffWatermark, type CommittedOffset, type PartitionEnd } from './handoff-watermark.js';
import { missingMessages, shouldScan } from './lost-messages.js';

const ends = (...highs: number[]): PartitionEnd[] => highs.map((high, partition) => ({ partition, high: String(high), low: '0' }));
const commits = (...offsets: number[]): CommittedOffset[] => offsets.map((offset, partition) => ({ partition, offset: String(offset) }));

describe('missing messages', () => {
  it('counts every message the queue holds, wherever it is, against the jobs that must have one', () => {
    expect(missingMessages(10_000, { visible: 10_000, inFlight: 0, delayed: 0 })).toBe(0);
    expect(missingMessages(10_000, { visible: 9_000, inFlight: 990, delayed: 3 })).toBe(7);
    // More messages than jobs (running jobs, stale copies): nothing provably lost.
    expect(missingMessages(10, { visible: 50, inFlight: 5, delayed: 0 })).toBe(0);
  });

  it('scans only for a shortfall seen twice in a row, at most once per interval', () => {
    const never = { previouslyMissing: 0, lastScanAt: undefined };
    expect(shouldScan(7, never, 1_000, 300_000)).toBe(false);
    expect(shouldScan(7, { previouslyMissing: 7, lastScanAt: undefined }, 1_000, 300_000)).toBe(true);
    expect(shouldScan(0, { previouslyMissing: 7, lastScanAt: undefined }, 1_000, 300_000)).toBe(false);
    expect(shouldScan(7, { previouslyMissing: 7, lastScanAt: 0 }, 299_999, 300_000)).toBe(false);
    expect(shouldScan(7, { previouslyMissing: 7, lastScanAt: 0 }, 300_000, 300_000)).toBe(true);
  });
});

describe('Kafka-to-SNS handoff watermark', () => {
  it('counts a sample handed off once every partition is committed up to its end', () => {
    const sample = { at: new Date(0), ends: ends(5, 0, 3) };
    expect(handedOff(sample, commits(5, -1, 3), ends(9, 0, 3))).toBe(true);
    expect(handedOff(sample, commits(5, -1, 2), ends(9, 0, 3))).toBe(false);
    // Never committed: nothing handed off, unless retention already dropped those records.
    expect(handedOff(sample, commits(-1, -1, 3), ends(9, 0, 3))).toBe(false);
    expect(handedOff(sample, commits(-1, -1, 3), [{ partition: 0, high: '9', low: '6' }, ...ends(0, 0, 3).slice(1)])).toBe(true);
  });

  it("tells the lanes' topics apart: a burst still in the overflow topic holds the watermark", () => {
    const lane = <T extends { partition: number }>(topic: string, rows: T[]) => rows.map((row) => ({ ...row, topic }));
    const sample = { at: new Date(0), ends: [...lane('req', ends(5, 2)), ...lane('req.overflow', ends(900, 800))] };
    const allEnds = sample.ends;
    // The regular topic is handed off, partition for partition; the overflow topic's same partitions are not.
    expect(handedOff(sample, [...lane('req', commits(5, 2)), ...lane('req.overflow', commits(100, 100))], allEnds)).toBe(false);
    expect(handedOff(sample, [...lane('req', commits(5, 2)), ...lane('req.overflow', commits(900, 800))], allEnds)).toBe(true);
  });

  it('advances to the time of a sample only after the bridge committed past it, and stays while it is behind', async () => {
    let high = 10;
    let committed = 0;
    let clock = 1_000;
    const watermark = new HandoffWatermark(
      { ends: async () => ends(high), committed: async () => commits(committed) },
      async () => new Date((clock += 1_000)),
    );
    expect(await watermark.advance()).toBeUndefined(); // first sample: ends 10 at t=2000
    high = 20;
    expect(await watermark.advance()).toBeUndefined(); // bridge at 0 < 10
    committed = 10;
    expect(await watermark.advance()).toEqual(new Date(2_000)); // new sample: ends 20 at t=3000
    expect(await watermark.advance()).toEqual(new Date(2_000)); // bridge stuck at 10 < 20
    committed = 20;
    expect(await watermark.advance()).toEqual(new Date(3_000));
  });
});

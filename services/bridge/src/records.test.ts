import { describe, expect, it } from 'vitest';
import { chunk, classify } from './records.js';
import { partitionLag } from './lag.js';

const ref = { topic: 't', partition: 2, offset: '41' };
const envelope = {
  v: 1,
  jobId: '0b6f9f52-7f3e-4a8e-9d8e-4d8c5a3b2a10',
  type: 'report.generate',
  tenant: 'demo',
  payload: { format: 'csv' },
  createdAt: '2026-01-01T00:00:00.000Z',
  maxAttempts: 3,
  timeoutSeconds: 300,
};

describe('classify', () => {
  it('keeps the body byte for byte and carries type, pool, traceparent and request_id as attributes', () => {
    const value = Buffer.from(JSON.stringify(envelope));
    const c = classify(ref, { value, headers: { traceparent: Buffer.from('00-abc-def-01'), request_id: Buffer.from('req-1') } });
    expect(c.kind).toBe('publish');
    if (c.kind !== 'publish') return;
    expect(c.entry.Id).toBe('2-41');
    expect(c.entry.Message).toBe(value.toString());
    expect(c.entry.MessageAttributes).toEqual({
      type: { DataType: 'String', StringValue: 'report.generate' },
      // A record from before the registry names no pool: topology.ts's pool of its type.
      pool: { DataType: 'String', StringValue: 'reports' },
      // A record from before priority classes names none: normal, so it matches the normal queue.
      priority: { DataType: 'String', StringValue: 'normal' },
      traceparent: { DataType: 'String', StringValue: '00-abc-def-01' },
      request_id: { DataType: 'String', StringValue: 'req-1' },
    });
    const routed = classify(ref, { value: Buffer.from(JSON.stringify({ ...envelope, type: 'team.resize', pool: 'default' })), headers: {} });
    expect(routed.kind === 'publish' && routed.entry.MessageAttributes?.pool).toEqual({ DataType: 'String', StringValue: 'default' });
    const high = classify(ref, { value: Buffer.from(JSON.stringify({ ...envelope, priority: 'high' })), headers: {} });
    expect(high.kind === 'publish' && high.entry.MessageAttributes?.priority).toEqual({ DataType: 'String', StringValue: 'high' });
    // The overflow lane is the only one named; the regular lane's filter takes what has no `lane`.
    expect(high.kind === 'publish' && high.entry.MessageAttributes?.lane).toBeUndefined();
    const overflow = classify(ref, { value: Buffer.from(JSON.stringify({ ...envelope, lane: 'overflow' })), headers: {} });
    expect(overflow.kind === 'publish' && overflow.entry.MessageAttributes?.lane).toEqual({ DataType: 'String', StringValue: 'overflow' });
    expect(classify(ref, { value: Buffer.from(JSON.stringify({ ...envelope, lane: 'regular' })), headers: {} })).toMatchObject({ kind: 'reject' });
  });

  it('rejects a record that is not an envelope, keeping its job id when readable', () => {
    const bad = classify(ref, { value: Buffer.from(JSON.stringify({ ...envelope, v: 2 })), headers: {} });
    expect(bad).toMatchObject({ kind: 'reject', jobId: envelope.jobId });
    const garbage = classify(ref, { value: Buffer.from('not json'), headers: {} });
    expect(garbage).toMatchObject({ kind: 'reject', jobId: null, reason: 'message is not JSON' });
    expect(classify(ref, { value: null, headers: {} })).toMatchObject({ kind: 'reject', reason: 'empty message' });
  });
});

describe('chunk', () => {
  it('splits into SNS-sized groups in order', () => {
    expect(chunk([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
  });
});

describe('partitionLag', () => {
  it('measures from the committed offset, or from the log start when nothing is committed', () => {
    expect(
      partitionLag(
        [
          { partition: 0, high: '10', low: '0' },
          { partition: 1, high: '7', low: '2' },
        ],
        [
          { partition: 0, offset: '4' },
          { partition: 1, offset: '-1' },
        ],
      ),
    ).toEqual([
      { partition: 0, lag: 6 },
      { partition: 1, lag: 5 },
    ]);
  });
});

import { describe, expect, it } from 'vitest';
import { completionNotice } from './events.consumer.js';
import { outcomeOf, parseJobEventMessage } from './job-event.message.js';

const valid = {
  eventId: 12,
  jobId: '6c0f1f8e-8a3c-4a55-9d3e-5b1c0c0a2b11',
  tenant: 'demo',
  owner: 'demo-user',
  jobType: 'noop',
  type: 'failed',
  data: { error: 'boom' },
  createdAt: '2025-01-01T00:00:00.000Z',
};
const buf = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));

describe('jobs.events records', () => {
  it('parses a valid record, normalising the event id to a string', () => {
    const parsed = parseJobEventMessage(buf(valid));
    expect(parsed.ok && parsed.event.eventId).toBe('12');
  });

  it('explains why a record is malformed', () => {
    expect(parseJobEventMessage(null)).toEqual({ ok: false, reason: 'empty value' });
    expect(parseJobEventMessage(buf('{nope'))).toEqual({ ok: false, reason: 'value is not JSON' });
    const bad = parseJobEventMessage(buf({ ...valid, jobId: 'x' }));
    expect(!bad.ok && bad.reason).toMatch(/^jobId:/);
  });

  it('maps only terminal events to an outcome', () => {
    expect(['succeeded', 'failed', 'cancelled', 'progress', 'toString'].map(outcomeOf)).toEqual([
      'success',
      'failed',
      'cancelled',
      undefined,
      undefined,
    ]);
  });

  it('builds the webhook body: resultUrl only on success, error only on failure', () => {
    const parsed = parseJobEventMessage(buf(valid));
    if (!parsed.ok) throw new Error('expected valid');
    const job = { id: valid.jobId, tenant: 'demo', owner: 'u', type: 'noop', callbackUrl: null, error: null, finishedAt: new Date('2025-01-02T00:00:00Z') };
    const failed = completionNotice(parsed.event, job, 'failed');
    expect(failed.body).toEqual({ jobId: valid.jobId, type: 'noop', status: 'failed', finishedAt: '2025-01-02T00:00:00.000Z', error: 'boom' });
    expect(failed.message).toContain('boom');
    const ok = completionNotice(parsed.event, job, 'success', 'https://api.example.com/');
    expect(ok.body.resultUrl).toBe(`https://api.example.com/jobs/${valid.jobId}/result`);
    expect(ok.body.error).toBeUndefined();
  });
});

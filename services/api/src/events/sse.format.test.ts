import { describe, expect, it } from 'vitest';
import { formatEvent, parseLastEventId } from './sse.format.js';

describe('SSE framing', () => {
  it('frames an event with its job_events id, type and JSON data', () => {
    const frame = formatEvent({ id: '42', jobId: 'j1', type: 'progress', data: { progress: 0.5 }, createdAt: new Date('2025-01-01T00:00:00Z') });
    expect(frame).toBe(
      'id: 42\nevent: progress\ndata: {"jobId":"j1","type":"progress","data":{"progress":0.5},"createdAt":"2025-01-01T00:00:00.000Z"}\n\n',
    );
  });

  it('never lets a stored type inject SSE fields', () => {
    const frame = formatEvent({ id: '1', jobId: 'j', type: 'x\ndata: evil', data: { s: 'a\nb' }, createdAt: new Date(0) });
    expect(frame.split('\n').filter((l) => l.startsWith('data:'))).toHaveLength(1);
    expect(frame).toContain('event: message\n');
  });

  it('resumes from the header, then the query, else from the start', () => {
    expect(parseLastEventId('17', '3')).toEqual({ ok: true, after: '17', given: true });
    expect(parseLastEventId(undefined, '3')).toEqual({ ok: true, after: '3', given: true });
    expect(parseLastEventId(undefined, undefined)).toEqual({ ok: true, after: '0', given: false });
    expect(parseLastEventId('abc', undefined)).toEqual({ ok: false });
    expect(parseLastEventId('-1', undefined)).toEqual({ ok: false });
  });
});

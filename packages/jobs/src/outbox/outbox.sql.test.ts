import { describe, expect, it } from 'vitest';
import { splitClaim, type ClaimedRow } from './outbox.sql.js';

const at = (ms: number) => new Date(Date.UTC(2026, 10, 23, 12, 0, 0, ms));

function jobRow(id: string, createdMs: number): ClaimedRow {
  return {
    kind: 'job', id, job_id: null, type: 'noop', tenant: 't', owner: null, job_type: null, body: { n: id },
    created_at: at(createdMs), run_at: null, max_attempts: 3, timeout_seconds: 300, traceparent: null, request_id: 'r', pool: 'default', priority: 1, overflow: true,
  };
}

function eventRow(id: string, jobId: string): ClaimedRow {
  return {
    kind: 'event', id, job_id: jobId, type: 'created', tenant: 't', owner: 'u', job_type: 'noop', body: { status: 'queued' },
    created_at: at(0), run_at: null, max_attempts: null, timeout_seconds: null, traceparent: '00-a-b-01', request_id: null, pool: null, priority: null, overflow: null,
  };
}

describe('splitClaim', () => {
  it('returns jobs oldest first and events by id, each with its own columns', () => {
    const { jobs, events } = splitClaim([eventRow('10', 'j2'), jobRow('j2', 5), eventRow('9', 'j1'), jobRow('j1', 1), eventRow('100', 'j1')]);
    expect(jobs.map((j) => j.id)).toEqual(['j1', 'j2']);
    expect(jobs[0]).toEqual({
      id: 'j1', type: 'noop', tenant: 't', payload: { n: 'j1' }, created_at: at(1), run_at: null,
      max_attempts: 3, timeout_seconds: 300, traceparent: null, request_id: 'r', pool: 'default', priority: 1, overflow: true,
    });
    // Numeric order, not text order: '100' sorts after '10'.
    expect(events.map((e) => e.id)).toEqual(['9', '10', '100']);
    expect(events[0]).toEqual({
      id: '9', job_id: 'j1', type: 'created', data: { status: 'queued' }, created_at: at(0), tenant: 't', owner: 'u',
      job_type: 'noop', traceparent: '00-a-b-01', request_id: null,
    });
  });

  it('handles a claim with only one kind, or none', () => {
    expect(splitClaim([])).toEqual({ jobs: [], events: [] });
    expect(splitClaim([jobRow('j', 0)]).events).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { resultReply, toJobView, waitingReason, type JobRow } from './job-view.js';

const created = new Date('2026-01-01T00:00:00.000Z');
const row: JobRow = {
  jobId: '0f8fad5b-d9cb-469f-a165-70867728950e',
  type: 'report.generate',
  status: 'queued',
  attempts: 0,
  maxAttempts: 3,
  progress: null,
  error: null,
  runAt: null,
  createdAt: created,
  updatedAt: created,
  startedAt: null,
  finishedAt: null,
  traceId: 'abc',
  cancelRequested: false,
  tenant: 'demo',
  tags: ['env:prod'],
};

describe('toJobView', () => {
  it('shows a job in flight as running with its phase and progress', () => {
    const view = toJobView({ ...row, status: 'processing', attempts: 1, progress: 0.4, progressMessage: 'page 4 of 10' });
    expect(view).toMatchObject({ status: 'running', phase: 'processing', progress: 0.4, progressMessage: 'page 4 of 10', attempts: 1, traceId: 'abc' });
    expect(view.downloadUrl).toBeUndefined();
    expect(view).toMatchObject({ tenant: 'demo', tags: ['env:prod'] });
  });

  it('gives a finished job its outcome: downloadUrl on success, error on failure', () => {
    const success = toJobView({ ...row, status: 'success', progress: 1, finishedAt: created });
    expect(success).toMatchObject({ status: 'success', downloadUrl: `/jobs/${row.jobId}/result` });
    expect(success.phase).toBeUndefined();
    expect(success.progress).toBeUndefined();
    expect(toJobView({ ...row, status: 'failed', error: 'boom' })).toMatchObject({ status: 'failed', error: 'boom' });
    expect(toJobView({ ...row, status: 'cancelled' })).toMatchObject({ status: 'cancelled' });
  });
});

describe('resultReply', () => {
  const base = { result: null, resultKey: null, error: null, resultExpiredAt: null };
  it('refuses results of jobs that have none', () => {
    expect(resultReply({ ...base, status: 'processing' })).toEqual({ kind: 'not-finished' });
    expect(resultReply({ ...base, status: 'failed', error: 'x' })).toEqual({ kind: 'no-result', status: 'failed', error: 'x' });
    expect(resultReply({ ...base, status: 'cancelled' })).toEqual({ kind: 'no-result', status: 'cancelled' });
  });

  it('reads the three stored forms of a result', () => {
    expect(resultReply({ ...base, status: 'success', result: { json: { n: 1 } } })).toEqual({ kind: 'json', value: { n: 1 } });
    expect(resultReply({ ...base, status: 'success', result: { json: null } })).toEqual({ kind: 'json', value: null });
    expect(resultReply({ ...base, status: 'success', result: { contentType: 'text/csv', text: 'a,b' } })).toEqual({
      kind: 'text',
      contentType: 'text/csv',
      text: 'a,b',
    });
    expect(
      resultReply({ ...base, status: 'success', resultKey: 'results/t/j', result: { contentType: 'text/csv', bytes: 9 } }),
    ).toEqual({ kind: 'object', key: 'results/t/j', contentType: 'text/csv' });
    expect(resultReply({ ...base, status: 'success' })).toEqual({ kind: 'empty' });
  });

  it('answers expired once retention dropped the result', () => {
    const expiredAt = new Date('2026-12-01T00:00:00Z');
    expect(resultReply({ ...base, status: 'success', resultExpiredAt: expiredAt })).toEqual({ kind: 'expired', expiredAt });
  });
});

describe('why a job waits', () => {
  const now = new Date('2026-01-01T00:00:10.000Z');
  const later = new Date('2026-01-01T00:01:00.000Z');
  const past = new Date('2026-01-01T00:00:00.000Z');

  it('names its run time first, then its pool\'s pause, then the queue', () => {
    expect(waitingReason('scheduled', later, now, true)).toBe('scheduled');
    expect(waitingReason('queued', later, now, false), 'dispatched ahead of its run time').toBe('scheduled');
    expect(waitingReason('retrying', later, now, true)).toBe('retry_backoff');
    expect(waitingReason('retrying', past, now, true)).toBe('pool_paused');
    expect(waitingReason('queued', null, now, true)).toBe('pool_paused');
    expect(waitingReason('queued', past, now, false)).toBe('queued');
    expect(waitingReason('processing', null, now, true), 'a running job does not wait').toBeUndefined();
  });

  it('names the start limit that holds a due job, after a run time ahead and a paused pool', () => {
    expect(waitingReason('queued', null, now, false, 'tenant_concurrency_limit')).toBe('tenant_concurrency_limit');
    expect(waitingReason('retrying', past, now, false, 'key_concurrency_limit')).toBe('key_concurrency_limit');
    expect(waitingReason('queued', null, now, true, 'key_concurrency_limit'), 'a resume comes first').toBe('pool_paused');
    expect(waitingReason('retrying', later, now, false, 'tenant_concurrency_limit')).toBe('retry_backoff');
    expect(waitingReason('processing', null, now, false, 'tenant_concurrency_limit')).toBeUndefined();
  });

  it('names a paused job type or tenant after a paused pool', () => {
    expect(waitingReason('queued', null, now, false, 'type_paused')).toBe('type_paused');
    expect(waitingReason('retrying', past, now, false, 'tenant_paused')).toBe('tenant_paused');
    expect(waitingReason('queued', null, now, true, 'tenant_paused')).toBe('pool_paused');
  });
});

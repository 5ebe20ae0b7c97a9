import { describe, expect, it } from 'vitest';
import { decideUnclaimed, type UnclaimedJob } from './claim-decision.js';

const job = (over: Partial<UnclaimedJob>): UnclaimedJob => ({
  status: 'queued',
  cancelRequested: false,
  attempts: 0,
  maxAttempts: 3,
  heartbeatAgeMs: null,
  dueInMs: null,
  poolPaused: false,
  paused: null,
  waitingReason: null,
  startLimit: null,
  ...over,
});

describe('what to do with a message whose job was not claimed', () => {
  it('sends a message for a job that does not exist to the DLQ', () => {
    expect(decideUnclaimed(undefined, 60)).toBe('poison');
  });

  it('acknowledges duplicates of finished jobs and of jobs running with a fresh heartbeat', () => {
    for (const status of ['success', 'failed', 'cancelled'] as const) expect(decideUnclaimed(job({ status }), 60)).toBe('ack');
    expect(decideUnclaimed(job({ status: 'processing', heartbeatAgeMs: 1_000 }), 60)).toBe('ack');
    expect(decideUnclaimed(job({ status: 'processing', heartbeatAgeMs: 1_000, cancelRequested: true }), 60)).toBe('ack');
  });

  it('cancels a waiting job whose cancellation was requested, or one whose worker died', () => {
    expect(decideUnclaimed(job({ status: 'queued', cancelRequested: true }), 60)).toBe('cancel');
    expect(decideUnclaimed(job({ status: 'retrying', cancelRequested: true }), 60)).toBe('cancel');
    expect(decideUnclaimed(job({ status: 'processing', heartbeatAgeMs: 61_000, cancelRequested: true }), 60)).toBe('cancel');
  });

  it('drops an early copy of a scheduled job and retries later after a lost race', () => {
    expect(decideUnclaimed(job({ status: 'scheduled' }), 60)).toBe('ack');
    expect(decideUnclaimed(job({ status: 'queued' }), 60)).toBe('later');
    expect(decideUnclaimed(job({ status: 'processing', attempts: 2, heartbeatAgeMs: 61_000 }), 60)).toBe('later');
  });

  it('drops the old message of a failed attempt waiting for its retry, whose fresh message the scheduler sends; runs it once due', () => {
    expect(decideUnclaimed(job({ status: 'retrying', attempts: 1, dueInMs: 30_000 }), 60)).toBe('ack');
    expect(decideUnclaimed(job({ status: 'retrying', attempts: 1, dueInMs: 0 }), 60)).toBe('later');
    expect(decideUnclaimed(job({ status: 'retrying', attempts: 1, dueInMs: 30_000, cancelRequested: true }), 60)).toBe('cancel');
  });

  it('fails a job whose worker died during its last attempt, but never takes it from a live run', () => {
    expect(decideUnclaimed(job({ status: 'processing', attempts: 3, maxAttempts: 3, heartbeatAgeMs: 61_000 }), 60)).toBe('exhausted');
    expect(decideUnclaimed(job({ status: 'processing', attempts: 3, maxAttempts: 3, heartbeatAgeMs: null }), 60)).toBe('exhausted');
    expect(decideUnclaimed(job({ status: 'processing', attempts: 3, maxAttempts: 3, heartbeatAgeMs: 1_000 }), 60)).toBe('ack');
    expect(decideUnclaimed(job({ status: 'processing', attempts: 3, maxAttempts: 3, heartbeatAgeMs: 61_000, cancelRequested: true }), 60)).toBe('cancel');
  });

  it('defers a job dispatched ahead of its run time until it is due, unless it was cancelled', () => {
    expect(decideUnclaimed(job({ status: 'queued', dueInMs: 1_500 }), 60)).toBe('not due');
    expect(decideUnclaimed(job({ status: 'queued', dueInMs: 0 }), 60)).toBe('later');
    expect(decideUnclaimed(job({ status: 'queued', dueInMs: 1_500, cancelRequested: true }), 60)).toBe('cancel');
  });

  it('hands back a runnable job of a paused pool, but still settles what a pause does not hold', () => {
    expect(decideUnclaimed(job({ status: 'queued', poolPaused: true }), 60)).toBe('paused');
    expect(decideUnclaimed(job({ status: 'retrying', dueInMs: 0, poolPaused: true }), 60)).toBe('paused');
    expect(decideUnclaimed(job({ status: 'queued', dueInMs: 1_500, poolPaused: true }), 60)).toBe('paused');
    expect(decideUnclaimed(job({ status: 'success', poolPaused: true }), 60)).toBe('ack');
    expect(decideUnclaimed(job({ status: 'queued', cancelRequested: true, poolPaused: true }), 60)).toBe('cancel');
    expect(decideUnclaimed(job({ status: 'processing', heartbeatAgeMs: 1_000, poolPaused: true }), 60)).toBe('ack');
  });

  it('sends back, for later, a runnable job a start limit holds; a pause, a run time ahead or a cancellation come first', () => {
    expect(decideUnclaimed(job({ status: 'queued', startLimit: 'tenant_concurrency_limit' }), 60)).toBe('limited');
    expect(decideUnclaimed(job({ status: 'retrying', dueInMs: 0, startLimit: 'key_concurrency_limit' }), 60)).toBe('limited');
    expect(decideUnclaimed(job({ status: 'queued', poolPaused: true, startLimit: 'key_concurrency_limit' }), 60)).toBe('paused');
    expect(decideUnclaimed(job({ status: 'queued', dueInMs: 1_500, startLimit: 'key_concurrency_limit' }), 60)).toBe('not due');
    expect(decideUnclaimed(job({ status: 'queued', cancelRequested: true, startLimit: 'tenant_concurrency_limit' }), 60)).toBe('cancel');
  });

  it('holds a runnable job whose type or tenant is paused, before any start limit; a pool pause or a cancellation come first', () => {
    expect(decideUnclaimed(job({ status: 'queued', paused: 'type_paused' }), 60)).toBe('held');
    expect(decideUnclaimed(job({ status: 'retrying', dueInMs: 0, paused: 'tenant_paused', startLimit: 'rate_limited' }), 60)).toBe('held');
    expect(decideUnclaimed(job({ status: 'queued', paused: 'type_paused', poolPaused: true }), 60)).toBe('paused');
    expect(decideUnclaimed(job({ status: 'queued', paused: 'type_paused', cancelRequested: true }), 60)).toBe('cancel');
    expect(decideUnclaimed(job({ status: 'success', paused: 'tenant_paused' }), 60)).toBe('ack');
  });
});

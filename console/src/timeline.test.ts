import { describe, expect, it } from 'vitest';
import { attemptsOf, progressOf, timelineOf, type JobEvent } from './timeline';

let id = 0;
const at = (second: number) => new Date(Date.UTC(2030, 0, 1, 0, 0, second)).toISOString();
const event = (type: string, second: number, data: Record<string, unknown> = {}): JobEvent => ({ id: String(++id), type, data, createdAt: at(second) });

describe('a job told from its events', () => {
  const events = [
    event('created', 0, { status: 'queued' }),
    event('started', 1, { attempt: 1, worker: 'w-1' }),
    event('progress', 2, { progress: 0.1 }),
    event('retried', 3, { attempt: 1, error: 'timed out after 1 s', runAt: at(5) }),
    event('queued', 4, { reason: 'retry' }),
    event('started', 5, { attempt: 2, worker: 'w-2' }),
    event('progress', 6, { progress: 0.5, message: 'half the rows' }),
    event('failed', 7, { attempt: 2, error: 'gave up after 2 attempts', reason: 'attempts exhausted' }),
  ];

  it('lists each attempt with its worker, outcome, error and the time of the next one', () => {
    expect(attemptsOf(events)).toEqual([
      { number: 1, startedAt: at(1), worker: 'w-1', outcome: 'retrying', endedAt: at(3), error: 'timed out after 1 s', retryAt: at(5) },
      { number: 2, startedAt: at(5), worker: 'w-2', outcome: 'failed', endedAt: at(7), error: 'gave up after 2 attempts' },
    ]);
  });

  it('marks a run that started again without an end as lost (its worker died)', () => {
    const redriven = [event('started', 1, { attempt: 1 }), event('started', 9, { attempt: 2 }), event('succeeded', 10)];
    expect(attemptsOf(redriven).map((a) => a.outcome)).toEqual(['lost', 'succeeded']);
  });

  it('keeps only the latest progress event in the timeline, with readable titles and details', () => {
    const timeline = timelineOf(events);
    expect(timeline.map((e) => e.type)).toEqual(['created', 'started', 'retried', 'queued', 'started', 'progress', 'failed']);
    expect(timeline.find((e) => e.type === 'progress')).toMatchObject({ title: 'Progress', detail: '50 % — half the rows' });
    expect(timelineOf([event('progress', 1, { progress: 0.25 })])[0]).toMatchObject({ detail: '25 %' });
    expect(timeline.at(-1)).toMatchObject({ title: 'Failed', detail: 'gave up after 2 attempts — attempts exhausted' });
    expect(progressOf(events)).toBe(0.5);
  });

  it("says why a job waited, from the waiting events' reasons", () => {
    const waited = timelineOf([
      event('waiting', 1, { reason: 'type_paused' }),
      event('queued', 2, { reason: 'resumed' }),
      event('waiting', 3, { reason: 'tenant_concurrency_limit' }),
      event('waiting', 4, { reason: 'some_future_reason' }),
    ]);
    expect(waited.map((e) => [e.title, e.detail])).toEqual([
      ['Waiting', 'its job type is paused: it runs after the resume'],
      ['Queued', 'resumed'],
      ['Waiting', 'its tenant runs as many jobs as its quota allows: it starts when one ends'],
      ['Waiting', 'some_future_reason'],
    ]);
  });

  it('tells a retry or a redrive of an ended job from a failed attempt', () => {
    const again = timelineOf([
      event('failed', 1, { attempt: 1, error: 'timed out after 1 s' }),
      event('retried', 2, { by: 'user-admin', previous: 'failed', attempt: 2, redrive: 'r-1' }),
      event('retried', 3, { by: 'user-demo', previous: 'cancelled', attempt: 3 }),
    ]);
    expect(again.slice(1)).toMatchObject([
      { title: 'Redriven from the dead letters', detail: 'was failed, by user-admin' },
      { title: 'Retried', detail: 'was cancelled, by user-demo' },
    ]);
  });
});

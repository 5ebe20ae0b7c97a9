import { describe, expect, it } from 'vitest';
import { historyWindow, LABEL_MATCHERS, mergeSeries, poolHistoryQueries } from './history.js';

describe("a pool's history from Prometheus", () => {
  it("asks for the visible messages of the pool's queues and the finished jobs of its types, narrowed by the selector", () => {
    const q = poolHistoryQueries(['ns-conveyor-default-high', 'ns-conveyor-default'], ['noop', 'points.grant'], 'conveyor_instance="dev"');
    expect(q.waiting).toBe(
      'sum(max by (queue) (conveyor_sqs_messages{role="queue",state="visible",queue=~"ns-conveyor-default-high|ns-conveyor-default",conveyor_instance="dev"}))',
    );
    // A dot in a type name is a literal dot, escaped once for the regex and once for the PromQL string.
    expect(q.donePerSecond).toBe(
      'sum(rate(conveyor_jobs_succeeded_total{type=~"noop|points\\\\.grant",conveyor_instance="dev"}[1m]))' +
        ' + sum(rate(conveyor_jobs_failed_total{type=~"noop|points\\\\.grant",conveyor_instance="dev"}[1m]))',
    );
    expect(poolHistoryQueries(['q'], ['t']).waiting).not.toContain(',}');
  });

  it('keeps at most 120 points and a step of 15 s at least, aligned to the step', () => {
    const now = new Date('2030-01-31T09:00:07Z');
    expect(historyWindow(60, now)).toEqual({ start: Date.parse('2030-01-31T08:00:00Z') / 1000, end: Date.parse('2030-01-31T09:00:00Z') / 1000, stepSeconds: 30 });
    expect(historyWindow(5, now).stepSeconds).toBe(15);
    expect(historyWindow(360, now).stepSeconds).toBe(180);
  });

  it('joins the two series on their timestamps, either one possibly missing', () => {
    const points = mergeSeries([{ values: [[60, '3'], [90, '2.6']] }], [{ values: [[30, '1.5'], [60, '0']] }]);
    expect(points).toEqual([
      { at: new Date(30_000).toISOString(), waiting: null, donePerSecond: 1.5 },
      { at: new Date(60_000).toISOString(), waiting: 3, donePerSecond: 0 },
      { at: new Date(90_000).toISOString(), waiting: 3, donePerSecond: null },
    ]);
    expect(mergeSeries([], [])).toEqual([]);
  });

  it('accepts label matchers and refuses anything else as a selector', () => {
    expect(LABEL_MATCHERS.test('conveyor_instance="dev"')).toBe(true);
    expect(LABEL_MATCHERS.test('namespace=~"conv.*", job!="x"')).toBe(true);
    expect(LABEL_MATCHERS.test('conveyor_instance="dev"} or vector(1) #')).toBe(false);
    expect(LABEL_MATCHERS.test('')).toBe(false);
  });
});

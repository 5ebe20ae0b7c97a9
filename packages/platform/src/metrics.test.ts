import { context, trace, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Counter, createMetrics, exposeMetrics, observeTraced, tracedHistogram } from './metrics.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const OPENMETRICS = 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5';

function setup() {
  const { registry } = createMetrics('test');
  const jobs = new Counter({ name: 'conveyor_test_jobs_total', help: 'Jobs.', labelNames: ['type'] as const, registers: [registry] });
  const latency = tracedHistogram({ name: 'conveyor_test_latency_seconds', help: 'Latency.', labelNames: ['type'] as const, buckets: [0.1, 1], registers: [registry] });
  jobs.inc({ type: 'noop' });
  observeTraced(latency, { type: 'noop' }, 0.05, TRACE_ID);
  return { registry, latency };
}

describe('metrics exposition', () => {
  // The active span lives in the OpenTelemetry context, which needs a context manager to exist.
  const contextManager = new AsyncLocalStorageContextManager();
  beforeAll(() => context.setGlobalContextManager(contextManager.enable()));
  afterAll(() => context.disable());

  it('serves Prometheus text without exemplars to a scraper that does not ask for OpenMetrics', async () => {
    const { registry } = setup();
    const { contentType, body } = await exposeMetrics(registry, 'text/plain');
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(body).toContain('# TYPE conveyor_test_jobs_total counter');
    expect(body).toContain('conveyor_test_jobs_total{type="noop",service="test"} 1');
    expect(body).toContain('conveyor_test_latency_seconds_bucket{le="0.1",service="test",type="noop"} 1');
    expect(body).not.toContain(TRACE_ID);
    expect(body).not.toContain('# EOF');
  });

  it('serves OpenMetrics with the trace id on the bucket that took the observation', async () => {
    const { registry } = setup();
    const { contentType, body } = await exposeMetrics(registry, OPENMETRICS);
    expect(contentType).toMatch(/^application\/openmetrics-text; version=1\.0\.0/);
    expect(body).toContain('# TYPE conveyor_test_jobs counter');
    expect(body).toContain('conveyor_test_jobs_total{type="noop",service="test"} 1');
    expect(body).toMatch(
      new RegExp(`conveyor_test_latency_seconds_bucket\\{le="0.1",service="test",type="noop"\\} 1 # \\{trace_id="${TRACE_ID}"\\} 0.05 \\d+`),
    );
    expect(body.endsWith('\n# EOF\n')).toBe(true);
  });

  it('leaves the text format intact after an OpenMetrics scrape (counter names are not renamed in place)', async () => {
    const { registry } = setup();
    await exposeMetrics(registry, OPENMETRICS);
    const { body } = await exposeMetrics(registry, undefined);
    expect(body).toContain('# TYPE conveyor_test_jobs_total counter');
  });

  it('takes the exemplar from the active span only when that span is sampled', async () => {
    const { registry, latency } = setup();
    const sampled = trace.wrapSpanContext({ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: TraceFlags.SAMPLED });
    const unsampled = trace.wrapSpanContext({ traceId: 'c'.repeat(32), spanId: 'd'.repeat(16), traceFlags: TraceFlags.NONE });
    context.with(trace.setSpan(context.active(), sampled), () => observeTraced(latency, { type: 'sampled' }, 0.5));
    context.with(trace.setSpan(context.active(), unsampled), () => observeTraced(latency, { type: 'unsampled' }, 0.5));
    const { body } = await exposeMetrics(registry, OPENMETRICS);
    expect(body).toContain(`trace_id="${'a'.repeat(32)}"`);
    expect(body).not.toContain('c'.repeat(32));
  });
});

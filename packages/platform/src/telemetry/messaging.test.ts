import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { context, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { captureContext } from '../envelope.js';
import { endSpans, startProcessSpan, startPublishSpan, withBatchSend } from './messaging.js';
import { serviceNameOf } from './sdk.js';

const STORED = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('messaging spans', () => {
  const exporter = new InMemorySpanExporter();
  const manager = new AsyncLocalStorageContextManager();
  beforeAll(() => {
    context.setGlobalContextManager(manager.enable());
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
  });
  afterAll(() => {
    trace.disable();
    context.disable();
  });

  it('publishes as a child of the stored traceparent and carries its own span on the wire', () => {
    const produced = startPublishSpan({ system: 'kafka', destination: 'ns-jobs.requested', messageId: 'job-1', parent: { traceparent: STORED, requestId: 'r1' } });
    endSpans([produced.span]);
    const [span] = exporter.getFinishedSpans().slice(-1);
    expect(span!.name).toBe('publish ns-jobs.requested');
    expect(span!.kind).toBe(SpanKind.PRODUCER);
    expect(span!.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(span!.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    expect(span!.attributes).toMatchObject({ 'messaging.system': 'kafka', 'messaging.operation.type': 'send', 'messaging.message.id': 'job-1' });
    expect(produced.carried).toEqual({ traceparent: `00-0af7651916cd43dd8448eb211c80319c-${span!.spanContext().spanId}-01`, requestId: 'r1' });
  });

  it('processes as a child of what the message carried', () => {
    const consumed = startProcessSpan({ system: 'kafka', destination: 't', messageId: 'job-2', parent: { traceparent: STORED } });
    expect(trace.getSpan(consumed.context)).toBe(consumed.span);
    endSpans([consumed.span], new Error('boom'));
    const [span] = exporter.getFinishedSpans().slice(-1);
    expect(span!.kind).toBe(SpanKind.CONSUMER);
    expect(span!.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    expect(span!.status.code).toBe(2);
  });

  it('runs a batch call in a span linked to every message and hides it from auto-instrumentation', async () => {
    const a = startPublishSpan({ system: 'aws_sns', destination: 'jobs', messageId: 'a', parent: { traceparent: STORED } });
    const b = startPublishSpan({ system: 'aws_sns', destination: 'jobs', messageId: 'b', parent: {} });
    // Inside, propagation injects nothing: an instrumented client cannot overwrite the headers.
    const inside = await withBatchSend('aws_sns', 'jobs', [a, b], async () => captureContext());
    expect(inside.traceparent).toBeUndefined();
    const [batch] = exporter.getFinishedSpans().slice(-1);
    expect(batch!.name).toBe('send jobs');
    expect(batch!.links.map((l) => l.context.spanId)).toEqual([a.span.spanContext().spanId, b.span.spanContext().spanId]);
    expect(batch!.attributes['messaging.batch.message_count']).toBe(2);
  });
});

describe('serviceNameOf', () => {
  it('prefers OTEL_SERVICE_NAME, else names the service by its entry script', () => {
    expect(serviceNameOf({ OTEL_SERVICE_NAME: 'edge' }, '/app/services/gateway/dist/main.js')).toBe('edge');
    expect(serviceNameOf({}, '/app/services/worker/dist/main.js')).toBe('worker');
    expect(serviceNameOf({}, '/usr/lib/node_modules/x.js')).toBeUndefined();
  });
});

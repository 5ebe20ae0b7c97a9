import { describe, expect, it } from 'vitest';
import { trace, context, TraceFlags } from '@opentelemetry/api';
import {
  captureContext,
  fromKafkaHeaders,
  fromMessageAttributes,
  parseEnvelope,
  restoreContext,
  serializeEnvelope,
  toKafkaHeaders,
  toMessageAttributes,
} from './envelope.js';

const spanContext = {
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  spanId: '00f067aa0ba902b7',
  traceFlags: TraceFlags.SAMPLED,
};
const activeCtx = trace.setSpanContext(context.active(), spanContext);

describe('message envelope', () => {
  it('round-trips a job', () => {
    const envelope = {
      v: 1 as const,
      jobId: '8f0c6c36-1c7e-4a59-9a43-5b8f3a0e9d21',
      type: 'noop',
      tenant: 'demo',
      payload: { a: 1 },
      createdAt: new Date().toISOString(),
      maxAttempts: 3,
      timeoutSeconds: 60,
    };
    expect(parseEnvelope(Buffer.from(serializeEnvelope(envelope)))).toEqual({ ok: true, envelope });
  });

  it('reports poison messages instead of throwing', () => {
    expect(parseEnvelope('')).toEqual({ ok: false, error: 'empty message' });
    expect(parseEnvelope('{not json')).toEqual({ ok: false, error: 'message is not JSON' });
    const missing = parseEnvelope(JSON.stringify({ v: 1, type: 'noop' }));
    expect(missing.ok).toBe(false);
    expect(!missing.ok && missing.error).toMatch(/jobId/);
  });

  it('carries trace context and request id through Kafka headers', () => {
    const headers = toKafkaHeaders(captureContext(activeCtx, 'req-1'));
    const wire = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Buffer.from(String(v))]));
    const received = fromKafkaHeaders(wire);
    expect(received.traceparent).toBe(`00-${spanContext.traceId}-${spanContext.spanId}-01`);
    expect(received.requestId).toBe('req-1');
    const restored = trace.getSpanContext(restoreContext(received));
    expect(restored?.traceId).toBe(spanContext.traceId);
    expect(restored?.isRemote).toBe(true);
  });

  it('carries type, trace context and request id through SNS/SQS attributes', () => {
    const attributes = toMessageAttributes(captureContext(activeCtx, 'req-2'), 'report.generate');
    expect(attributes.type).toEqual({ DataType: 'String', StringValue: 'report.generate' });
    const received = fromMessageAttributes(attributes);
    expect(received).toMatchObject({ type: 'report.generate', requestId: 'req-2' });
    expect(trace.getSpanContext(restoreContext(received))?.spanId).toBe(spanContext.spanId);
  });

  it('carries a delayed job\'s run time from Kafka headers to SNS/SQS attributes', () => {
    const runAt = '2026-11-23T10:00:00.000Z';
    const wire = Object.fromEntries(Object.entries(toKafkaHeaders({ requestId: 'req-3', runAt })).map(([k, v]) => [k, Buffer.from(String(v))]));
    const attributes = toMessageAttributes(fromKafkaHeaders(wire), 'noop');
    expect(attributes.run_at).toEqual({ DataType: 'String', StringValue: runAt });
    expect(fromMessageAttributes(attributes)).toMatchObject({ type: 'noop', requestId: 'req-3', runAt });
    expect(fromMessageAttributes(toMessageAttributes({ requestId: 'req-4' }, 'noop')).runAt).toBeUndefined();
  });

  it('captures nothing when no span is active', () => {
    expect(captureContext(context.active())).toEqual({ traceparent: undefined, tracestate: undefined, requestId: undefined });
  });
});

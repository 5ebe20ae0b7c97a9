import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { nameServerSpan } from './index.js';
import { traceRequests } from './server-span.js';

const CALLER = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('traceRequests', () => {
  const exporter = new InMemorySpanExporter();
  let server: http.Server;
  let url: string;
  const seenInHandler: Array<string | undefined> = [];

  beforeAll(async () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
    server = http.createServer(
      traceRequests((req, res) => {
        // The span must stay active across awaits, as it does in the services' async handlers.
        void (async () => {
          await new Promise((r) => setTimeout(r, 5));
          seenInHandler.push(trace.getActiveSpan()?.spanContext().traceId);
          if (req.url?.startsWith('/jobs')) nameServerSpan('POST', '/jobs');
          res.statusCode = req.url?.startsWith('/boom') ? 503 : req.url?.startsWith('/missing') ? 404 : 202;
          res.end('{}');
        })();
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    trace.disable();
    context.disable();
    propagation.disable();
  });

  const finished = async (count: number) => {
    for (let i = 0; i < 100 && exporter.getFinishedSpans().length < count; i += 1) await new Promise((r) => setTimeout(r, 10));
    return exporter.getFinishedSpans();
  };

  it('continues the caller’s trace in a SERVER span that is active in the handler and named after the route', async () => {
    exporter.reset();
    const res = await fetch(`${url}/jobs?x=1`, { method: 'POST', headers: { traceparent: CALLER, 'user-agent': 'probe' } });
    expect(res.status).toBe(202);
    const [span] = await finished(1);
    expect(span!.kind).toBe(SpanKind.SERVER);
    expect(span!.name).toBe('POST /jobs');
    expect(span!.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(span!.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
    expect(span!.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/jobs',
      'url.path': '/jobs',
      'url.query': 'x=1',
      'http.response.status_code': 202,
      'user_agent.original': 'probe',
    });
    expect(span!.status.code).toBe(0);
    expect(seenInHandler.at(-1)).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  });

  it('starts a new trace without a traceparent, and marks 5xx, not 4xx, as errors', async () => {
    exporter.reset();
    await fetch(`${url}/missing`);
    await fetch(`${url}/boom`);
    const [missing, boom] = await finished(2);
    expect(missing!.parentSpanContext).toBeUndefined();
    expect(missing!.name).toBe('GET');
    expect(missing!.status.code).toBe(0);
    expect(boom!.attributes['http.response.status_code']).toBe(503);
    expect(boom!.status.code).toBe(2);
    expect(missing!.spanContext().traceId).not.toBe(boom!.spanContext().traceId);
  });
});

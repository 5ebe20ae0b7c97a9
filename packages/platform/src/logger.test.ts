import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { context, trace, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { createLogger } from './logger.js';
import { withContext } from './context.js';

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

function capture() {
  const stream = new PassThrough();
  const lines: Record<string, unknown>[] = [];
  stream.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
  });
  return { stream, lines };
}

describe('createLogger', () => {
  it('writes JSON lines with service, level, trace and request ids', async () => {
    const { stream, lines } = capture();
    const logger = createLogger({ service: 'api', destination: stream });
    const span = { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: TraceFlags.SAMPLED };
    context.with(trace.setSpanContext(context.active(), span), () =>
      withContext({ requestId: 'req-9', jobId: 'job-1' }, () => logger.info('hello')),
    );
    await new Promise((r) => setImmediate(r));
    expect(lines[0]).toMatchObject({
      level: 'info',
      service: 'api',
      msg: 'hello',
      trace_id: span.traceId,
      span_id: span.spanId,
      request_id: 'req-9',
      job_id: 'job-1',
    });
  });

  it('never writes passwords, tokens or authorization headers', async () => {
    const { stream, lines } = capture();
    const logger = createLogger({ service: 'gateway', destination: stream });
    logger.info(
      { body: { email: 'demo@example.com', password: 'demo-password' }, req: { headers: { authorization: 'Bearer abc.def' } }, accessToken: 'xyz' },
      'login',
    );
    await new Promise((r) => setImmediate(r));
    const text = JSON.stringify(lines);
    expect(text).not.toContain('demo-password');
    expect(text).not.toContain('abc.def');
    expect(text).not.toContain('xyz');
    expect(text).toContain('demo@example.com');
  });
});

describe('URL secrets in log lines', () => {
  it('redacts credentials and secret query values of any URL, in any field or message, and keeps the rest', async () => {
    const { stream, lines } = capture();
    const logger = createLogger({ service: 'api', destination: stream });
    const err = new TypeError('Request cannot be constructed from a URL that includes credentials: http://u:p4ss@127.0.0.1:18999/poison');
    logger.warn({ err, url: 'https://hooks.example.com/in?tenant=acme&token=t0k3n&X-Amz-Signature=abcdef', db: 'postgres://conveyor:hunter2@db:5432/x' }, 'sending to https://a:b@example.com/x?api_key=k3y&page=2');
    await new Promise((r) => setImmediate(r));
    const text = JSON.stringify(lines);
    for (const secret of ['p4ss', 't0k3n', 'abcdef', 'hunter2', 'k3y', 'a:b@']) expect(text).not.toContain(secret);
    expect(lines[0]).toMatchObject({
      url: 'https://hooks.example.com/in?tenant=acme&token=[redacted]&X-Amz-Signature=[redacted]',
      db: 'postgres://[redacted]@db:5432/x',
      msg: 'sending to https://[redacted]@example.com/x?api_key=[redacted]&page=2',
    });
    expect((lines[0]!.err as { message: string }).message).toContain('http://[redacted]@127.0.0.1:18999/poison');
  });
});

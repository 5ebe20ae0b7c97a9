import type { IncomingMessage, ServerResponse } from 'node:http';
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';

const tracer = trace.getTracer('@conveyor/platform');

/**
 * Runs a request handler inside a SERVER span that continues the caller's W3C trace context.
 *
 * This replaces OpenTelemetry's http instrumentation, which patches every incoming and outgoing
 * request of the process (the AWS SDK's and the ops endpoints' too) and measured as a third of
 * the services' CPU per job in `make bench`. The span carries the stable HTTP attributes a reader
 * needs; the route template is added by the service (`nameServerSpan`).
 */
export function traceRequests(handler: (req: IncomingMessage, res: ServerResponse) => void): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const method = req.method ?? 'GET';
    const [path, query] = (req.url ?? '/').split('?', 2);
    const span = tracer.startSpan(
      method,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': method,
          'url.path': path,
          ...(query ? { 'url.query': query } : {}),
          'url.scheme': 'http',
          'network.protocol.version': req.httpVersion,
          ...(req.headers['user-agent'] ? { 'user_agent.original': req.headers['user-agent'] } : {}),
        },
      },
      parent,
    );
    res.once('close', () => {
      const status = res.headersSent ? res.statusCode : undefined;
      if (status !== undefined) span.setAttribute('http.response.status_code', status);
      // Per the HTTP conventions a server span is an error only for 5xx (4xx are the client's).
      if (status === undefined || status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: status === undefined ? 'connection closed before an answer' : undefined });
      span.end();
    });
    context.with(trace.setSpan(parent, span), () => handler(req, res));
  };
}

import { context, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Link, type Span } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import { captureContext, restoreContext, type MessageContext } from '../envelope.js';

/**
 * Messaging spans per the OpenTelemetry semantic conventions (messaging.*), for the hops where a
 * job's trace context is carried by hand: the outbox relay publishes long after the request that
 * stored the job, and a batch call (Kafka sendBatch, SNS PublishBatch) carries many jobs' traces.
 * Glossary: destination = topic or queue name; system = kafka | aws_sns | aws_sqs.
 */
const tracer = trace.getTracer('@conveyor/platform');

export type MessagingSystem = 'kafka' | 'aws_sns' | 'aws_sqs';

export interface MessageSpanOptions {
  system: MessagingSystem;
  destination: string;
  /** The job id: what a reader of the trace looks for. */
  messageId: string;
  /** Where the message's trace continues from (the stored or received traceparent). */
  parent: MessageContext;
  attributes?: Attributes;
}

function messagingAttributes(operation: 'send' | 'process' | 'create', name: string, options: MessageSpanOptions): Attributes {
  return {
    'messaging.system': options.system,
    'messaging.destination.name': options.destination,
    'messaging.operation.type': operation,
    'messaging.operation.name': name,
    'messaging.message.id': options.messageId,
    'conveyor.job.id': options.messageId,
    ...options.attributes,
  };
}

/** A message being published, as a child of its own job's trace; its context goes on the wire. */
export interface ProducedMessage {
  span: Span;
  /** What to put in the message's headers/attributes so the consumer continues this span. */
  carried: MessageContext;
}

/** `publish <destination>` (PRODUCER), child of the job's context rather than of whatever is active. */
export function startPublishSpan(options: MessageSpanOptions): ProducedMessage {
  const span = tracer.startSpan(
    `publish ${options.destination}`,
    { kind: SpanKind.PRODUCER, attributes: messagingAttributes('send', 'publish', options) },
    restoreContext(options.parent),
  );
  const carried = captureContext(trace.setSpan(context.active(), span), options.parent.requestId);
  // Without a recording SDK the span context is invalid; the stored context then travels unchanged.
  return { span, carried: carried.traceparent ? carried : options.parent };
}

/** `process <destination>` (CONSUMER), child of the context the message carried. */
export function startProcessSpan(options: MessageSpanOptions): { span: Span; context: Context } {
  const parent = restoreContext(options.parent);
  const span = tracer.startSpan(
    `process ${options.destination}`,
    { kind: SpanKind.CONSUMER, attributes: messagingAttributes('process', 'process', options) },
    parent,
  );
  return { span, context: trace.setSpan(parent, span) };
}

/** Ends spans with the outcome of the work they cover. */
export function endSpans(spans: Span[], error?: unknown): void {
  for (const span of spans) {
    if (error !== undefined) {
      span.recordException(error instanceof Error ? error : new Error(String(error)));
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    }
    span.end();
  }
}

/**
 * Runs one batch call carrying many messages inside `send <destination>` (CLIENT), which links
 * to each message's own span instead of adopting one job's trace. Auto-instrumentation below it
 * is suppressed: kafkajs would otherwise overwrite every message's traceparent header with its own
 * span, cutting each job's trace at this hop.
 */
export async function withBatchSend<T>(
  system: MessagingSystem,
  destination: string,
  messages: ProducedMessage[],
  fn: () => Promise<T>,
): Promise<T> {
  const links: Link[] = messages.map((m) => ({ context: m.span.spanContext() }));
  const span = tracer.startSpan(`send ${destination}`, {
    kind: SpanKind.CLIENT,
    links,
    attributes: {
      'messaging.system': system,
      'messaging.destination.name': destination,
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'send',
      'messaging.batch.message_count': messages.length,
    },
  });
  try {
    const result = await context.with(suppressTracing(trace.setSpan(context.active(), span)), fn);
    endSpans([span]);
    return result;
  } catch (error) {
    endSpans([span], error);
    throw error;
  }
}

/** An internal step of a job's life done outside any request (a scheduler dispatch), in the job's trace. */
export function recordJobStep(name: string, jobId: string, parent: MessageContext, attributes: Attributes = {}, startTime?: Date): void {
  const span = tracer.startSpan(
    name,
    { kind: SpanKind.INTERNAL, attributes: { 'conveyor.job.id': jobId, ...attributes }, startTime },
    restoreContext(parent),
  );
  span.end();
}

/** The trace id inside a W3C traceparent (`00-<trace id>-<span id>-<flags>`). */
export function traceIdOf(traceparent: string | null | undefined): string | undefined {
  return traceparent?.split('-')[1];
}

import { z } from 'zod';
import { context as otelContext, ROOT_CONTEXT, type Context } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { IHeaders } from 'kafkajs';
import type { MessageAttributeValue as SqsAttribute } from '@aws-sdk/client-sqs';
import type { MessageAttributeValue as SnsAttribute } from '@aws-sdk/client-sns';

/**
 * A job's priority class: the order a pool's workers take its work in (docs/design.md,
 * "Priorities"). Every class has its own queue per pool; `normal` is the default and the class of
 * a message that carries none (written before classes existed).
 */
export const PRIORITY_CLASSES = ['high', 'normal', 'low'] as const;
export type PriorityClass = (typeof PRIORITY_CLASSES)[number];

/**
 * The message that carries one job between services (Kafka `jobs.requested`, SNS, SQS).
 * Glossary: tenant = the owner of the job; attempt = how many runs were started before this one.
 */
export const jobEnvelopeSchema = z.object({
  v: z.literal(1),
  jobId: z.uuid(),
  type: z.string().min(1).max(128),
  tenant: z.string().min(1).max(128),
  payload: z.unknown(),
  createdAt: z.iso.datetime({ offset: true }),
  maxAttempts: z.number().int().min(1).max(100).default(3),
  timeoutSeconds: z.number().int().min(1).max(86_400).default(300),
  /**
   * The worker pool the job routes to (its registered type's). SNS filter policies route on it, so
   * a type registered at run time reaches its pool's queue with no change to any subscription.
   * Absent on messages written before the registry; the bridge then takes topology.ts's pool.
   */
  pool: z.string().min(1).max(64).optional(),
  /** The job's priority class; absent on messages written before classes, which are `normal`. */
  priority: z.enum(PRIORITY_CLASSES).optional(),
  /**
   * `overflow` when the job's tenant had more than its threshold waiting in the pool at submit
   * (docs/design.md, "Fairness between tenants"): the bridge routes it to the class's overflow
   * lane. Absent for every other job, which takes the regular lane.
   */
  lane: z.literal('overflow').optional(),
});

export type JobEnvelope = z.infer<typeof jobEnvelopeSchema>;

export type ParseResult = { ok: true; envelope: JobEnvelope } | { ok: false; error: string };

/** Parses bytes off the wire without throwing, so a poison message can be counted and set aside. */
export function parseEnvelope(raw: string | Buffer | null | undefined): ParseResult {
  if (raw == null || raw.length === 0) return { ok: false, error: 'empty message' };
  let json: unknown;
  try {
    json = JSON.parse(raw.toString());
  } catch {
    return { ok: false, error: 'message is not JSON' };
  }
  const result = jobEnvelopeSchema.safeParse(json);
  if (!result.success) {
    const error = result.error.issues.map((i) => `${i.path.join('.') || 'message'}: ${i.message}`).join('; ');
    return { ok: false, error };
  }
  return { ok: true, envelope: result.data };
}

export function serializeEnvelope(envelope: JobEnvelope): string {
  return JSON.stringify(envelope);
}

/** What travels beside a message's body so its trace and request continue on the other side. */
export interface MessageContext {
  traceparent?: string;
  tracestate?: string;
  requestId?: string;
  /**
   * A delayed job's run time (ISO 8601), so a worker that receives it ahead of time can hold it
   * without parsing the body. A hint only: the worker's claim checks run_at against Postgres' clock.
   */
  runAt?: string;
}

const propagator = new W3CTraceContextPropagator();
const REQUEST_ID = 'request_id';
const RUN_AT = 'run_at';

/** Captures the active span (or a given context) as W3C trace headers. */
export function captureContext(ctx: Context = otelContext.active(), requestId?: string): MessageContext {
  const carrier: Record<string, string> = {};
  propagator.inject(ctx, carrier, {
    set: (c, k, v) => {
      c[k] = v;
    },
  });
  return { traceparent: carrier.traceparent, tracestate: carrier.tracestate, requestId };
}

/** Turns received trace headers back into an OpenTelemetry context to start the consumer span in. */
export function restoreContext(message: MessageContext): Context {
  const carrier: Record<string, string | undefined> = {
    traceparent: message.traceparent,
    tracestate: message.tracestate,
  };
  return propagator.extract(ROOT_CONTEXT, carrier, {
    get: (c, k) => c[k],
    keys: (c) => Object.keys(c),
  });
}

export function toKafkaHeaders(message: MessageContext, extra: Record<string, string> = {}): IHeaders {
  const headers: IHeaders = { ...extra };
  if (message.traceparent) headers.traceparent = message.traceparent;
  if (message.tracestate) headers.tracestate = message.tracestate;
  if (message.requestId) headers[REQUEST_ID] = message.requestId;
  if (message.runAt) headers[RUN_AT] = message.runAt;
  return headers;
}

function headerText(value: IHeaders[string]): string | undefined {
  if (value == null) return undefined;
  const first = Array.isArray(value) ? value[0] : value;
  return first == null ? undefined : first.toString();
}

export function fromKafkaHeaders(headers: IHeaders | undefined): MessageContext {
  if (!headers) return {};
  return {
    traceparent: headerText(headers.traceparent),
    tracestate: headerText(headers.tracestate),
    requestId: headerText(headers[REQUEST_ID]),
    runAt: headerText(headers[RUN_AT]),
  };
}

type Attributes = Record<string, SnsAttribute & SqsAttribute>;

/**
 * SNS/SQS message attributes: `pool`, `priority` and `lane` (only ever `overflow`: the regular lane's
 * filter takes a message without one) for filter policies, `type`, trace and request ids for continuity.
 */
export function toMessageAttributes(message: MessageContext, type?: string, pool?: string, priority?: PriorityClass, lane?: 'overflow'): Attributes {
  const attributes: Attributes = {};
  const put = (name: string, value: string | undefined) => {
    if (value) attributes[name] = { DataType: 'String', StringValue: value };
  };
  put('type', type);
  put('pool', pool);
  put('priority', priority);
  put('lane', lane);
  put('traceparent', message.traceparent);
  put('tracestate', message.tracestate);
  put(REQUEST_ID, message.requestId);
  put(RUN_AT, message.runAt);
  return attributes;
}

export function fromMessageAttributes(
  attributes: Record<string, { StringValue?: string | undefined }> | undefined,
): MessageContext & { type?: string } {
  const get = (name: string) => attributes?.[name]?.StringValue;
  return {
    type: get('type'),
    traceparent: get('traceparent'),
    tracestate: get('tracestate'),
    requestId: get(REQUEST_ID),
    runAt: get(RUN_AT),
  };
}

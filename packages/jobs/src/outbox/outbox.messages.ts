import { serializeEnvelope, toKafkaHeaders, type IHeaders, type MessageContext } from '@conveyor/platform';
import type { UnpublishedEventRow, UnpublishedJobRow } from './outbox.sql.js';
import { poolOf } from '../topology.js';
import { priorityClassOf } from '../priority.js';

export interface OutboxMessage {
  key: string;
  value: string;
  headers: IHeaders;
}

/** The value of a jobs.events record; consumers (notifications, webhooks, audit) read this. */
export interface JobEventMessage {
  eventId: number | null;
  jobId: string;
  tenant: string | null;
  owner: string | null;
  jobType: string | null;
  type: string;
  data: Record<string, unknown>;
  createdAt: string;
}

function context(row: { traceparent: string | null; request_id: string | null }) {
  return { traceparent: row.traceparent ?? undefined, requestId: row.request_id ?? undefined };
}

/** `carried`: the trace context to send on (the publish span's), by default the one the row stored. */
export function jobMessage(row: UnpublishedJobRow, carried: MessageContext = context(row)): OutboxMessage {
  return {
    key: row.id,
    value: serializeEnvelope({
      v: 1,
      jobId: row.id,
      type: row.type,
      tenant: row.tenant,
      payload: row.payload,
      createdAt: row.created_at.toISOString(),
      maxAttempts: row.max_attempts,
      timeoutSeconds: row.timeout_seconds,
      // A job from before the registry routes as it did then: by topology.ts.
      pool: row.pool ?? poolOf(row.type)?.name,
      priority: priorityClassOf(row.priority),
      ...(row.overflow ? { lane: 'overflow' as const } : {}),
    }),
    headers: toKafkaHeaders({ ...carried, runAt: row.run_at?.toISOString() }),
  };
}

export function eventMessage(row: UnpublishedEventRow): OutboxMessage {
  const value: JobEventMessage = {
    eventId: Number(row.id),
    jobId: row.job_id,
    tenant: row.tenant,
    owner: row.owner,
    jobType: row.job_type,
    type: row.type,
    data: row.data,
    createdAt: row.created_at.toISOString(),
  };
  return { key: row.job_id, value: JSON.stringify(value), headers: toKafkaHeaders(context(row)) };
}

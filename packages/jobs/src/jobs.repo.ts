import { createHash, randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from '@conveyor/platform';
import type { JobEventType, JobStatus } from './status.js';

/** Anything that runs a query: a pool, or a client inside a transaction. */
export type Queryable = Pick<Pool | PoolClient, 'query'>;

export interface NewJob {
  tenant: string;
  owner: string;
  type: string;
  payload: unknown;
  runAt?: Date;
  priority?: number;
  maxAttempts?: number;
  timeoutSeconds?: number;
  callbackUrl?: string;
  idempotencyKey?: string;
  traceparent?: string;
  traceId?: string;
  requestId?: string;
}

export type CreateJobOutcome =
  | { kind: 'created'; jobId: string; status: JobStatus }
  | { kind: 'replayed'; jobId: string; status: JobStatus }
  | { kind: 'conflict'; jobId: string };

/** Hash of what makes two submissions "the same request" for idempotency. */
export function requestHash(job: Pick<NewJob, 'type' | 'payload' | 'runAt' | 'priority' | 'maxAttempts' | 'timeoutSeconds' | 'callbackUrl'>): string {
  const canonical = JSON.stringify([
    job.type,
    canonicalJson(job.payload),
    job.runAt?.toISOString() ?? null,
    job.priority ?? null,
    job.maxAttempts ?? null,
    job.timeoutSeconds ?? null,
    job.callbackUrl ?? null,
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

/** JSON with object keys sorted, so key order never makes two equal bodies differ. */
function canonicalJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonicalJson);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value as object)
        .sort()
        .map((k) => [k, canonicalJson((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/**
 * Stores a job and its `created` event in one statement: a job is never visible without its first
 * event. With an idempotency key, the tenant's unique index decides: the first insert wins, a
 * replay with the same body gets the first job back, a different body is a conflict.
 * A job due later is `scheduled`; otherwise `queued` and unpublished, for the outbox relay.
 */
export async function createJob(db: Queryable, job: NewJob, now = new Date()): Promise<CreateJobOutcome> {
  const id = randomUUID();
  const hash = requestHash(job);
  const scheduled = job.runAt !== undefined && job.runAt.getTime() > now.getTime();
  const status: JobStatus = scheduled ? 'scheduled' : 'queued';
  const { rows } = await db.query<{ id: string; status: JobStatus }>(
    `WITH inserted AS (
       INSERT INTO jobs (id, tenant, owner, type, payload, status, priority, max_attempts, timeout_seconds,
                         run_at, callback_url, idempotency_key, request_hash, traceparent, trace_id, request_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
       ON CONFLICT (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
       RETURNING id, status
     ), event AS (
       INSERT INTO job_events (job_id, type, data)
       SELECT id, 'created', jsonb_build_object('status', status, 'type', $4::text) FROM inserted
     )
     SELECT id, status FROM inserted`,
    [
      id,
      job.tenant,
      job.owner,
      job.type,
      JSON.stringify(job.payload ?? {}),
      status,
      job.priority ?? 0,
      job.maxAttempts ?? 3,
      job.timeoutSeconds ?? 300,
      job.runAt ?? null,
      job.callbackUrl ?? null,
      job.idempotencyKey ?? null,
      hash,
      job.traceparent ?? null,
      job.traceId ?? null,
      job.requestId ?? null,
    ],
  );
  if (rows[0]) return { kind: 'created', jobId: rows[0].id, status: rows[0].status };

  // The key was taken: by a replay of this request, or by a different one.
  const existing = await db.query<{ id: string; status: JobStatus; request_hash: string }>(
    'SELECT id, status, request_hash FROM jobs WHERE tenant = $1 AND idempotency_key = $2',
    [job.tenant, job.idempotencyKey],
  );
  const first = existing.rows[0];
  if (!first) throw new Error('idempotency key conflict but no job holds the key');
  return first.request_hash === hash
    ? { kind: 'replayed', jobId: first.id, status: first.status }
    : { kind: 'conflict', jobId: first.id };
}

/** Appends a lifecycle event; the outbox relay publishes it to jobs.events. */
export async function recordJobEvent(
  db: Queryable,
  jobId: string,
  type: JobEventType,
  data: Record<string, unknown> = {},
): Promise<void> {
  await db.query('INSERT INTO job_events (job_id, type, data) VALUES ($1, $2, $3)', [jobId, type, JSON.stringify(data)]);
}

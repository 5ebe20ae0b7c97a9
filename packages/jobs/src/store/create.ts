import { createHash, randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from '@conveyor/platform';
import type { JobEventType, JobStatus } from '../status.js';

/** Anything that runs a query: a pool, or a client inside a transaction. */
export type Queryable = Pick<Pool | PoolClient, 'query'>;

export interface NewJob {
  tenant: string;
  owner: string;
  type: string;
  payload: unknown;
  runAt?: Date;
  /** A priority class's code (priority.ts: 1 high, 0 normal, -1 low), as the column stores it. */
  priority?: number;
  maxAttempts?: number;
  timeoutSeconds?: number;
  callbackUrl?: string;
  /** Free labels to find the job by (GET /jobs?tags=), stored as given. */
  tags?: readonly string[];
  idempotencyKey?: string;
  traceparent?: string;
  traceId?: string;
  requestId?: string;
  /** The registered version the payload was validated against (job_type_versions). */
  typeVersion?: number;
  /** The worker pool it routes to (the registered type's). */
  pool?: string;
  /** At most concurrencyLimit jobs of the tenant with this key run at once (both or neither). */
  concurrencyKey?: string;
  concurrencyLimit?: number;
  /** At most rateLimitPerSecond jobs of the tenant with this key start in any second (both or neither). */
  rateLimitKey?: string;
  rateLimitPerSecond?: number;
  /**
   * The registered type's defaults, for the options the request left out. Not part of the request
   * hash: a retry of the same request stays a replay after an operator changes a default.
   */
  defaults?: { priority: number; maxAttempts: number; timeoutSeconds: number; resultRetentionSeconds?: number | null };
}

export type CreateJobOutcome =
  | { kind: 'created'; jobId: string; status: JobStatus }
  | { kind: 'replayed'; jobId: string; status: JobStatus }
  | { kind: 'conflict'; jobId: string };

/** The submit quotas of a tenant (tenant_quotas), as a refusal names them. */
export type SubmitLimit = 'maxQueued' | 'submitsPerMinute';

/** A submit over its tenant's quota: nothing was written. */
export interface SubmitRefused {
  kind: 'refused';
  limit: SubmitLimit;
  retryAfterSeconds: number;
}

export type SubmitOutcome = CreateJobOutcome | SubmitRefused;

/**
 * How a submit meets its tenant's quota: `each` job on its own (of several coalesced requests, the
 * first ones fit), or the `whole` set of jobs or none of them (POST /jobs/batch).
 */
export type Admission = 'each' | 'whole';

/** Hash of what makes two submissions "the same request" for idempotency. */
export function requestHash(
  job: Pick<NewJob, 'type' | 'payload' | 'runAt' | 'priority' | 'maxAttempts' | 'timeoutSeconds' | 'callbackUrl' | 'tags' | 'concurrencyKey' | 'concurrencyLimit' | 'rateLimitKey' | 'rateLimitPerSecond'>,
): string {
  const canonical = JSON.stringify([
    job.type,
    canonicalJson(job.payload),
    job.runAt?.toISOString() ?? null,
    job.priority ?? null,
    job.maxAttempts ?? null,
    job.timeoutSeconds ?? null,
    job.callbackUrl ?? null,
    // Only when given, so the hashes of jobs stored before tags existed still match their replays.
    ...(job.tags?.length ? [[...job.tags].sort()] : []),
    ...(job.concurrencyKey === undefined ? [] : [{ concurrency: [job.concurrencyKey, job.concurrencyLimit ?? null] }]),
    ...(job.rateLimitKey === undefined ? [] : [{ rateLimit: [job.rateLimitKey, job.rateLimitPerSecond ?? null] }]),
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

/** JSON with object keys sorted, so key order never makes two equal bodies differ. */
export function canonicalJson(value: unknown): unknown {
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
export async function createJob(db: Queryable, job: NewJob, now = new Date(), options: CreateJobsOptions = {}): Promise<CreateJobOutcome> {
  const [outcome] = await createJobs(db, [job], now, options);
  return outcome!;
}

/**
 * How many jobs a tenant may have waiting (`queued`) in a pool before its further jobs go to the
 * pool's overflow lane (docs/design.md, "Fairness between tenants").
 */
export const DEFAULT_OVERFLOW_AFTER = 100;

export interface CreateJobsOptions {
  /** The tenant's waiting jobs in a pool past which a new job is stored `overflow`; default DEFAULT_OVERFLOW_AFTER. */
  overflowAfter?: number;
}

/**
 * createJob for many jobs in one statement (the api coalesces concurrent requests), outcomes in
 * the order given. Two jobs of the batch with the same idempotency key behave as two requests in
 * a row: the first is created, the second replays it or conflicts with it.
 */
export function createJobs(db: Queryable, jobs: readonly NewJob[], now = new Date(), options: CreateJobsOptions = {}): Promise<CreateJobOutcome[]> {
  return insertJobs(db, jobs, now, null, options) as Promise<CreateJobOutcome[]>;
}

/**
 * createJobs within the tenants' submit quotas (max queued, submits per minute: tenant_quotas,
 * decided by conveyor_admit_submit in the same statement, so concurrent submits through any api
 * replica are serialised per tenant). A job over its quota is `refused` and nothing of it is
 * written; an idempotent replay of a stored job is still answered as a replay.
 */
export function submitJobs(db: Queryable, jobs: readonly NewJob[], admission: Admission, now = new Date(), options: CreateJobsOptions = {}): Promise<SubmitOutcome[]> {
  return insertJobs(db, jobs, now, admission, options);
}

async function insertJobs(db: Queryable, jobs: readonly NewJob[], now: Date, admission: Admission | null, options: CreateJobsOptions): Promise<SubmitOutcome[]> {
  const rows = jobs.map((job) => ({
    id: randomUUID(),
    hash: requestHash(job),
    status: (job.runAt !== undefined && job.runAt.getTime() > now.getTime() ? 'scheduled' : 'queued') as JobStatus,
    job,
  }));
  const column = <T>(pick: (row: (typeof rows)[number]) => T) => rows.map(pick);
  const { rows: answered } = await db.query<{ id: string | null; status: JobStatus | null; tenant: string | null; refusedBy: SubmitLimit | null; retryAfterSeconds: number | null }>({
    // Named: parsed and planned once per connection, since the api runs it for every batch of submissions.
    name: 'jobs.create-jobs',
    text: `WITH input AS (
       SELECT u.*, row_number() OVER (PARTITION BY u.tenant ORDER BY u.ord) AS nth
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::text[], $7::smallint[],
                     $8::int[], $9::int[], $10::timestamptz[], $11::text[], $12::text[], $13::text[], $14::text[],
                     $15::text[], $16::text[], $17::jsonb[], $18::int[], $19::text[], $20::int[], $21::text[], $22::int[],
                     $23::text[], $24::int[])
              WITH ORDINALITY
           AS u(id, tenant, owner, type, payload, status, priority, max_attempts, timeout_seconds, run_at,
                callback_url, idempotency_key, request_hash, traceparent, trace_id, request_id, tags, type_version, pool,
                result_retention_seconds, concurrency_key, concurrency_limit, rate_limit_key, rate_limit_per_second, ord)
     ), admission AS (
       -- Only with a quota check ($25): each tenant's jobs in one call, tenants in one order (its
       -- advisory locks never wait the other way round for another statement's).
       SELECT t.tenant, a.admitted, a.refused_by, a.retry_after_seconds
         FROM (SELECT tenant, count(*)::int AS wanted FROM input GROUP BY tenant ORDER BY tenant) t
              CROSS JOIN LATERAL conveyor_admit_submit(t.tenant, t.wanted, $25::text = 'whole') a
        WHERE $25::text IS NOT NULL
     ), waiting AS (
       -- Each tenant's jobs already waiting in the pool, counted up to the threshold ($26): a few
       -- index entries for a quiet tenant, never more than the threshold for a busy one.
       SELECT k.tenant, k.pool,
              (SELECT count(*) FROM (SELECT 1 FROM jobs j
                                      WHERE j.tenant = k.tenant AND j.pool = k.pool AND j.status = 'queued'
                                      LIMIT $26) w) AS n
         FROM (SELECT DISTINCT tenant, pool FROM input WHERE status = 'queued' AND pool IS NOT NULL) k
     ), inserted AS (
       INSERT INTO jobs (id, tenant, owner, type, payload, status, priority, max_attempts, timeout_seconds,
                         run_at, callback_url, idempotency_key, request_hash, traceparent, trace_id, request_id, tags,
                         type_version, pool, result_retention_seconds, concurrency_key, concurrency_limit,
                         rate_limit_key, rate_limit_per_second, overflow)
       -- Tags travel as one JSON array per job: unnest would flatten a two-dimensional text[].
       -- A job overflows when the waiting ones plus those before it in this statement pass the threshold.
       SELECT u.id, u.tenant, u.owner, u.type, u.payload, u.status, u.priority, u.max_attempts, u.timeout_seconds, u.run_at,
              u.callback_url, u.idempotency_key, u.request_hash, u.traceparent, u.trace_id, u.request_id,
              ARRAY(SELECT jsonb_array_elements_text(u.tags)), u.type_version, u.pool, u.result_retention_seconds,
              u.concurrency_key, u.concurrency_limit, u.rate_limit_key, u.rate_limit_per_second,
              COALESCE(w.n + row_number() OVER (PARTITION BY w.tenant, w.pool ORDER BY u.ord) > $26, false)
         FROM input u LEFT JOIN waiting w ON w.tenant = u.tenant AND w.pool = u.pool AND u.status = 'queued'
        WHERE $25::text IS NULL OR u.nth <= (SELECT a.admitted FROM admission a WHERE a.tenant = u.tenant)
       ON CONFLICT (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
       RETURNING id, status, type
     ), event AS (
       INSERT INTO job_events (job_id, type, data)
       SELECT id, 'created', jsonb_build_object('status', status, 'type', type) FROM inserted
     )
     SELECT id, status, NULL AS tenant, NULL AS "refusedBy", NULL::int AS "retryAfterSeconds" FROM inserted
     UNION ALL
     SELECT NULL, NULL, tenant, refused_by, retry_after_seconds FROM admission WHERE refused_by IS NOT NULL`,
    values: [
      column((r) => r.id),
      column((r) => r.job.tenant),
      column((r) => r.job.owner),
      column((r) => r.job.type),
      column((r) => JSON.stringify(r.job.payload ?? {})),
      column((r) => r.status),
      column((r) => r.job.priority ?? r.job.defaults?.priority ?? 0),
      column((r) => r.job.maxAttempts ?? r.job.defaults?.maxAttempts ?? 3),
      column((r) => r.job.timeoutSeconds ?? r.job.defaults?.timeoutSeconds ?? 300),
      column((r) => r.job.runAt ?? null),
      column((r) => r.job.callbackUrl ?? null),
      column((r) => r.job.idempotencyKey ?? null),
      column((r) => r.hash),
      column((r) => r.job.traceparent ?? null),
      column((r) => r.job.traceId ?? null),
      column((r) => r.job.requestId ?? null),
      column((r) => JSON.stringify(r.job.tags ?? [])),
      column((r) => r.job.typeVersion ?? null),
      column((r) => r.job.pool ?? null),
      column((r) => r.job.defaults?.resultRetentionSeconds ?? null),
      column((r) => r.job.concurrencyKey ?? null),
      column((r) => (r.job.concurrencyKey === undefined ? null : (r.job.concurrencyLimit ?? 1))),
      column((r) => r.job.rateLimitKey ?? null),
      column((r) => (r.job.rateLimitKey === undefined ? null : (r.job.rateLimitPerSecond ?? 1))),
      admission,
      options.overflowAfter ?? DEFAULT_OVERFLOW_AFTER,
    ],
  });
  const created = new Map(answered.flatMap((row) => (row.id === null ? [] : [[row.id, row.status!] as const])));
  const refusals = new Map(
    answered.flatMap((row) => (row.tenant === null ? [] : [[row.tenant, { kind: 'refused', limit: row.refusedBy!, retryAfterSeconds: row.retryAfterSeconds! } as const]])),
  );
  const outcomes: Array<SubmitOutcome | undefined> = rows.map((row) => {
    const status = created.get(row.id);
    return status === undefined ? undefined : { kind: 'created', jobId: row.id, status };
  });
  const taken = rows.filter((row) => !created.has(row.id));
  if (taken.length === 0) return outcomes as SubmitOutcome[];

  // Those keys were taken: by a replay of the same request, or by a different one.
  const { rows: holders } = await db.query<{ id: string; status: JobStatus; request_hash: string; tenant: string; idempotency_key: string }>(
    `SELECT id, status, request_hash, tenant, idempotency_key FROM jobs
      WHERE (tenant, idempotency_key) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
    [taken.map((r) => r.job.tenant), taken.map((r) => r.job.idempotencyKey)],
  );
  const holderOf = new Map(holders.map((h) => [`${h.tenant}\u0000${h.idempotency_key}`, h]));
  return rows.map((row, i) => {
    if (outcomes[i]) return outcomes[i];
    const first = holderOf.get(`${row.job.tenant}\u0000${row.job.idempotencyKey}`);
    // Not stored and no earlier job holds its key: its tenant's quota refused it.
    const refused = refusals.get(row.job.tenant);
    if (!first && refused) return { ...refused };
    if (!first) throw new Error('idempotency key conflict but no job holds the key');
    return first.request_hash === row.hash
      ? { kind: 'replayed', jobId: first.id, status: first.status }
      : { kind: 'conflict', jobId: first.id };
  });
}

/**
 * createJobs in a transaction that first takes each tenant's lane lock (a transaction-scoped
 * advisory lock, tenants in a fixed order), for a bulk submit: two batches of one tenant sent at
 * once would otherwise each count the tenant's waiting jobs without the other's (neither is
 * committed), and a burst of concurrent batches would take the regular lane several thresholds
 * deep (measured: 4 connections of 1,000 put 3,000 more of a burst in front of a quiet tenant).
 * The INSERT starts after the lock, so its snapshot holds what the tenant's batch before it
 * committed. Other tenants' submits never wait; a tenant's own batches are stored one at a time.
 * `track` wraps the client (the outbox signal), so the commit is announced.
 */
export async function createJobsLaneLocked(
  pool: Pick<Pool, 'connect'>,
  jobs: readonly NewJob[],
  options: CreateJobsOptions & { track?: (db: Queryable) => Queryable; admission?: Admission } = {},
): Promise<SubmitOutcome[]> {
  const client = await pool.connect();
  const db = options.track ? options.track(client) : client;
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const tenants = [...new Set(jobs.map((j) => j.tenant))].sort();
    await client.query({ name: 'jobs.lane-lock', text: "SELECT pg_advisory_xact_lock(hashtext('conveyor.lane:' || t)) FROM unnest($1::text[]) AS t", values: [tenants] });
    const outcomes = await insertJobs(client, jobs, new Date(), options.admission ?? null, options);
    await db.query('COMMIT');
    return outcomes;
  } catch (error) {
    await client.query('ROLLBACK').catch((rollbackError: Error) => {
      broken = rollbackError;
    });
    throw error;
  } finally {
    client.release(broken);
  }
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

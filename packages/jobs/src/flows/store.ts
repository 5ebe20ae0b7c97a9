import { createHash, randomUUID } from 'node:crypto';
import type { Pool } from '@conveyor/platform';
import { canonicalJson, type Queryable, type SubmitRefused } from '../store/create.js';
import type { JobStatus } from '../status.js';

/**
 * Flows (docs/design.md, "Flows and sagas"): the statements on flows and flow_steps. The flow
 * advances in Postgres itself (migration 0022's trigger on jobs), in the transaction that ends
 * each of its jobs; these functions create, read and cancel flows.
 */

/** A validated job as a flow stores it until it is enqueued (conveyor_flow_insert_job reads it). */
export interface FlowJobSpec {
  type: string;
  payload: unknown;
  typeVersion?: number;
  pool?: string;
  priority: number;
  maxAttempts: number;
  timeoutSeconds: number;
  resultRetentionSeconds?: number | null;
  callbackUrl?: string;
  tags?: readonly string[];
  concurrencyKey?: string;
  concurrencyLimit?: number;
  rateLimitKey?: string;
  rateLimitPerSecond?: number;
}

export interface NewFlowStep {
  name: string;
  dependsOn: readonly string[];
  job: FlowJobSpec;
  compensate?: FlowJobSpec;
}

export interface NewFlow {
  tenant: string;
  owner: string;
  name?: string;
  saga: boolean;
  steps: readonly NewFlowStep[];
  traceparent?: string;
  traceId?: string;
  requestId?: string;
  /** POST /flows' Idempotency-Key: the same key and body again get the first flow back, another body is a conflict. */
  idempotencyKey?: string;
}

export type FlowStatus = 'running' | 'success' | 'failed' | 'cancelled' | 'compensating' | 'compensated' | 'compensation_failed';
export type FlowStepStatus = 'waiting' | 'running' | 'success' | 'failed' | 'cancelled' | 'skipped';

export type CreateFlowOutcome =
  | { kind: 'created'; flowId: string; enqueued: number }
  | { kind: 'replayed'; flowId: string }
  | { kind: 'conflict'; flowId: string }
  | SubmitRefused;

/** What makes two submissions of a flow "the same request" for its idempotency key. */
function flowRequestHash(flow: NewFlow): string {
  return createHash('sha256')
    .update(JSON.stringify(canonicalJson([flow.name ?? null, flow.saga, flow.steps])))
    .digest('hex');
}

/**
 * Stores a flow and its steps and enqueues those with no dependency, in one transaction: a flow is
 * written whole or not at all. Its steps count against the tenant's submit quota as one batch
 * (POST /jobs/batch's `whole` admission): over it, nothing is written.
 */
export async function createFlow(pool: Pick<Pool, 'connect'>, flow: NewFlow, track?: (db: Queryable) => Queryable): Promise<CreateFlowOutcome> {
  const flowId = randomUUID();
  const client = await pool.connect();
  const db = track ? track(client) : client;
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const hash = flowRequestHash(flow);
    // First, so a replay is answered as one even when the quota is full now.
    const { rowCount } = await client.query(
      `INSERT INTO flows (id, tenant, owner, name, saga, status, traceparent, trace_id, request_id, idempotency_key, request_hash)
       VALUES ($1, $2, $3, $4, $5, 'running', $6, $7, $8, $9, $10)
       ON CONFLICT (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING`,
      [flowId, flow.tenant, flow.owner, flow.name ?? null, flow.saga, flow.traceparent ?? null, flow.traceId ?? null, flow.requestId ?? null, flow.idempotencyKey ?? null, hash],
    );
    if (rowCount === 0) {
      const { rows: first } = await client.query<{ id: string; request_hash: string }>(
        'SELECT id, request_hash FROM flows WHERE tenant = $1 AND idempotency_key = $2',
        [flow.tenant, flow.idempotencyKey],
      );
      await client.query('ROLLBACK');
      return { kind: first[0]!.request_hash === hash ? 'replayed' : 'conflict', flowId: first[0]!.id };
    }
    const { rows: admission } = await client.query<{ admitted: number; refused_by: SubmitRefused['limit'] | null; retry_after_seconds: number | null }>(
      'SELECT admitted, refused_by, retry_after_seconds FROM conveyor_admit_submit($1, $2, true)',
      [flow.tenant, flow.steps.length],
    );
    const admitted = admission[0]!;
    if (admitted.refused_by !== null) {
      await client.query('ROLLBACK');
      return { kind: 'refused', limit: admitted.refused_by, retryAfterSeconds: admitted.retry_after_seconds ?? 1 };
    }
    await client.query(
      `INSERT INTO flow_steps (flow_id, name, ord, depends_on, pending, status, job, compensate)
       SELECT $1, s.name, s.ord, ARRAY(SELECT jsonb_array_elements_text(s.depends_on)), jsonb_array_length(s.depends_on),
              'waiting', s.job, s.compensate
         FROM unnest($2::text[], $3::jsonb[], $4::jsonb[], $5::jsonb[]) WITH ORDINALITY AS s(name, depends_on, job, compensate, ord)`,
      [
        flowId,
        flow.steps.map((s) => s.name),
        flow.steps.map((s) => JSON.stringify(s.dependsOn)),
        flow.steps.map((s) => JSON.stringify(s.job)),
        flow.steps.map((s) => (s.compensate ? JSON.stringify(s.compensate) : null)),
      ],
    );
    // The same function the trigger runs when a step succeeds: the first steps are enqueued as every later one is.
    const { rows } = await db.query<{ n: number }>('SELECT conveyor_flow_enqueue_ready($1) AS n', [flowId]);
    await db.query('COMMIT');
    return { kind: 'created', flowId, enqueued: rows[0]!.n };
  } catch (error) {
    await client.query('ROLLBACK').catch((rollbackError: Error) => {
      broken = rollbackError;
    });
    throw error;
  } finally {
    client.release(broken);
  }
}

export interface FlowStepRow {
  name: string;
  dependsOn: string[];
  status: FlowStepStatus;
  type: string;
  jobId: string | null;
  jobStatus: JobStatus | null;
  attempts: number | null;
  startedAt: Date | null;
  finishedAt: Date | null;
  error: string | null;
  compensation: { type: string; status: 'running' | 'success' | 'failed' | null; jobId: string | null } | null;
}

export interface FlowRow {
  id: string;
  tenant: string;
  name: string | null;
  saga: boolean;
  status: FlowStatus;
  error: string | null;
  createdAt: Date;
  finishedAt: Date | null;
  steps: FlowStepRow[];
}

/** A flow with its steps in the order given, each with its job's attempts and timing; `tenant` null reads any tenant's. */
export async function findFlow(db: Queryable, flowId: string, tenant: string | null): Promise<FlowRow | undefined> {
  const { rows } = await db.query<Omit<FlowRow, 'steps'>>(
    `SELECT id, tenant, name, saga, status, error, created_at AS "createdAt", finished_at AS "finishedAt"
       FROM flows WHERE id = $1 AND ($2::text IS NULL OR tenant = $2)`,
    [flowId, tenant],
  );
  const flow = rows[0];
  if (!flow) return undefined;
  const { rows: steps } = await db.query<FlowStepRow>(
    `SELECT s.name, s.depends_on AS "dependsOn", s.status, s.job->>'type' AS type, s.job_id AS "jobId",
            j.status AS "jobStatus", j.attempts, j.started_at AS "startedAt", coalesce(j.finished_at, s.finished_at) AS "finishedAt",
            j.error,
            CASE WHEN s.compensate IS NULL THEN NULL
                 ELSE jsonb_build_object('type', s.compensate->>'type', 'status', s.compensation_status, 'jobId', s.compensation_job_id) END AS compensation
       FROM flow_steps s LEFT JOIN jobs j ON j.id = s.job_id
      WHERE s.flow_id = $1 ORDER BY s.ord`,
    [flowId],
  );
  return { ...flow, steps };
}

/**
 * Cancels a flow: it is `cancelled`, its waiting steps `skipped`; returns the jobs of its running
 * steps, for the caller to cancel through the jobs' own cancel path (their ends are then recorded
 * on the steps by the trigger, and advance nothing). `finished` when the flow had already ended
 * (`status` says how).
 */
export async function cancelFlow(
  db: Queryable,
  flowId: string,
  tenant: string | null,
): Promise<{ kind: 'not-found' } | { kind: 'finished' | 'cancelled'; status: FlowStatus; runningJobs: string[] }> {
  const { rows } = await db.query<{ previous: FlowStatus; cancelled: boolean; running: string[] | null }>(
    `WITH target AS (
       SELECT id, status FROM flows WHERE id = $1 AND ($2::text IS NULL OR tenant = $2) FOR UPDATE
     ), changed AS (
       UPDATE flows f SET status = 'cancelled', error = 'cancelled', finished_at = now(), updated_at = now()
         FROM target t WHERE f.id = t.id AND t.status = 'running' RETURNING f.id
     ), skipped AS (
       UPDATE flow_steps s SET status = 'skipped' FROM changed c WHERE s.flow_id = c.id AND s.status = 'waiting'
     )
     SELECT t.status AS previous, EXISTS (SELECT 1 FROM changed) AS cancelled,
            (SELECT array_agg(job_id) FROM flow_steps WHERE flow_id = t.id AND status = 'running') AS running
       FROM target t`,
    [flowId, tenant],
  );
  const row = rows[0];
  if (!row) return { kind: 'not-found' };
  // A flow cancelled before still lists its steps running (a cancel that ended before it reached them all): cancel them again.
  return { kind: row.cancelled ? 'cancelled' : 'finished', status: row.cancelled ? 'cancelled' : row.previous, runningJobs: row.running ?? [] };
}

/**
 * The results of a flow step's dependencies, by step name (the SDK's ctx.dependencies()): each
 * its job's stored result (`{ json }` or `{ contentType, text }`; a result kept in S3 appears as
 * its summary, with `resultKey`). Empty for a job outside a flow.
 */
export async function dependencyResults(db: Queryable, jobId: string): Promise<Record<string, unknown>> {
  const { rows } = await db.query<{ name: string; result: unknown; resultKey: string | null }>(
    `SELECT d.name, j.result, j.result_key AS "resultKey"
       FROM flow_steps s
       JOIN flow_steps d ON d.flow_id = s.flow_id AND d.name = ANY (s.depends_on)
       JOIN jobs j ON j.id = d.job_id
      WHERE s.job_id = $1`,
    [jobId],
  );
  return Object.fromEntries(rows.map((row) => [row.name, row.resultKey === null ? row.result : { ...(row.result as object), resultKey: row.resultKey }]));
}

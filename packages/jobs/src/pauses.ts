/**
 * Pausing a job type or a tenant (migration 0025; pools pause in pool-controls.ts). The pause is a
 * row of job_pauses; the claim refuses the jobs a row covers, so every worker holds them from the
 * moment it commits. A worker whose claim was refused for a pause holds the job (holdJob): it marks
 * the row held and deletes the message, so a long pause costs nothing per job. The resume deletes
 * the row and sends every held job that no other pause covers again through the outbox.
 *
 * Why nothing is lost or run twice: holdJob locks the pause row (FOR SHARE) in its statement, and
 * the resume deletes that row before it releases held jobs, in the same transaction. So either the
 * hold commits first, and the resume's next statement (a new snapshot) sees the job held and
 * releases it; or the resume's delete commits first, and the hold, re-checking the row after the
 * lock, finds no pause and holds nothing (the worker retries the message). A job released twice
 * would get two messages, and the claim (conditional on the row) runs it once.
 */
import type { Pool } from '@conveyor/platform';
import type { Queryable } from './store/create.js';

export const PAUSE_SCOPES = ['type', 'tenant'] as const;
export type PauseScope = (typeof PAUSE_SCOPES)[number];
/** The waitingReason of a job a pause holds. */
export type PauseReason = 'type_paused' | 'tenant_paused';

export interface PauseState {
  scope: PauseScope;
  name: string;
  paused: boolean;
  pausedBy: string | null;
  pausedAt: Date | null;
  reason: string | null;
}

export interface PauseChange {
  state: PauseState;
  /** False when it already was in that state (nothing was written). */
  changed: boolean;
  /** Held jobs the resume sent again. */
  released: number;
}

const COLUMNS = `scope, name, true AS paused, paused_by AS "pausedBy", paused_at AS "pausedAt", reason`;

export async function readPause(db: Queryable, scope: PauseScope, name: string): Promise<PauseState> {
  const { rows } = await db.query<PauseState>(`SELECT ${COLUMNS} FROM job_pauses WHERE scope = $1 AND name = $2`, [scope, name]);
  return rows[0] ?? { scope, name, paused: false, pausedBy: null, pausedAt: null, reason: null };
}

/** Every paused type and tenant, by scope and name. */
export async function listPauses(db: Queryable): Promise<PauseState[]> {
  const { rows } = await db.query<PauseState>(`SELECT ${COLUMNS} FROM job_pauses ORDER BY scope, name`);
  return rows;
}

/** Pauses a type or tenant; a repeat keeps who paused it and when. */
export async function pause(db: Queryable, scope: PauseScope, name: string, actor: string, reason: string | null): Promise<PauseChange> {
  const { rows } = await db.query<{ changed: boolean }>(
    `WITH changed AS (
       INSERT INTO job_pauses (scope, name, paused_by, reason) VALUES ($1, $2, $3, $4)
       ON CONFLICT (scope, name) DO NOTHING RETURNING scope, name
     ), event AS (
       INSERT INTO job_pause_events (scope, name, action, actor, reason) SELECT scope, name, 'paused', $3, $4 FROM changed
     )
     SELECT EXISTS (SELECT 1 FROM changed) AS changed`,
    [scope, name, actor, reason],
  );
  return { state: await readPause(db, scope, name), changed: rows[0]!.changed, released: 0 };
}

/**
 * Resumes a type or tenant: the pause row goes, then its held jobs that no other pause covers go
 * back to `queued` unpublished (the outbox relay sends them; the caller wakes it) with a `queued`
 * event, reason `resumed`. Idempotent: a repeat releases what is still held, if anything.
 */
export async function resume(pool: Pool, scope: PauseScope, name: string, actor: string): Promise<PauseChange> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rowCount } = await client.query(
      `WITH gone AS (DELETE FROM job_pauses WHERE scope = $1 AND name = $2 RETURNING scope, name)
       INSERT INTO job_pause_events (scope, name, action, actor) SELECT scope, name, 'resumed', $3 FROM gone`,
      [scope, name, actor],
    );
    // A new snapshot: it sees every hold that committed before the delete above got its lock.
    const released = await client.query(
      `WITH held AS (
         UPDATE jobs SET held_at = NULL, waiting_reason = NULL, status = 'queued', published_at = NULL, updated_at = now()
          WHERE held_at IS NOT NULL AND status IN ('queued', 'retrying')
            AND CASE WHEN $1 = 'type' THEN type = $2 ELSE tenant = $2 END
            AND conveyor_paused(type, tenant) IS NULL
         RETURNING id
       )
       INSERT INTO job_events (job_id, type, data) SELECT id, 'queued', jsonb_build_object('reason', 'resumed', 'scope', $1::text) FROM held`,
      [scope, name],
    );
    await client.query('COMMIT');
    return { state: await readPause(pool, scope, name), changed: (rowCount ?? 0) > 0, released: released.rowCount ?? 0 };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/**
 * Holds a waiting job a pause covers: marks it held with its reason (a `waiting` event when the
 * reason changed) so the caller may delete its message. Undefined when no pause covers it any more
 * (or it no longer waits): the caller keeps the message and tries again.
 */
export async function holdJob(db: Queryable, jobId: string): Promise<PauseReason | undefined> {
  const { rows } = await db.query<{ reason: PauseReason }>(
    `WITH job AS (
       SELECT id, type, tenant, waiting_reason FROM jobs WHERE id = $1 AND status IN ('queued', 'retrying') AND NOT cancel_requested
     ), p AS (
       -- Locked until this statement commits: a resume deleting it waits, then sees the job held.
       SELECT CASE p.scope WHEN 'type' THEN 'type_paused' ELSE 'tenant_paused' END AS reason
         FROM job_pauses p, job
        WHERE (p.scope = 'type' AND p.name = job.type) OR (p.scope = 'tenant' AND p.name = job.tenant)
        ORDER BY p.scope DESC LIMIT 1
        FOR SHARE OF p
     ), held AS (
       UPDATE jobs j SET held_at = now(), waiting_reason = p.reason, updated_at = now()
         FROM p, job WHERE j.id = job.id AND j.status IN ('queued', 'retrying')
       RETURNING j.id, p.reason, job.waiting_reason IS DISTINCT FROM p.reason AS changed
     ), event AS (
       INSERT INTO job_events (job_id, type, data) SELECT id, 'waiting', jsonb_build_object('reason', reason) FROM held WHERE changed
     )
     SELECT reason FROM held`,
    [jobId],
  );
  return rows[0]?.reason;
}

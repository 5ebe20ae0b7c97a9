/**
 * Pausing a worker pool: the state lives in pool_controls (migration 0014), its history in
 * pool_control_events. Workers learn a change on POOL_CONTROL_CHANNEL (payload: the pool's name)
 * and re-read the row every few seconds in case a notification was missed; the claim refuses the
 * jobs of a paused pool, which covers a worker that has not heard yet.
 */
import type { Queryable } from './store/create.js';

/** Every worker LISTENs here; the payload is the name of the pool whose pause state changed. */
export const POOL_CONTROL_CHANNEL = 'conveyor_pool_control';

export interface PoolControl {
  paused: boolean;
  pausedBy: string | null;
  pausedAt: Date | null;
  reason: string | null;
}

/** A pool without a row in pool_controls. */
export const POOL_RUNNING: PoolControl = { paused: false, pausedBy: null, pausedAt: null, reason: null };

const COLUMNS = `paused, paused_by AS "pausedBy", paused_at AS "pausedAt", reason`;

/** Each pool's control that has a row; a pool without one runs. */
export async function readPoolControls(db: Queryable): Promise<Map<string, PoolControl>> {
  const { rows } = await db.query<PoolControl & { pool: string }>(`SELECT pool, ${COLUMNS} FROM pool_controls`);
  return new Map(rows.map(({ pool, ...control }) => [pool, control]));
}

export async function readPoolControl(db: Queryable, pool: string): Promise<PoolControl> {
  const { rows } = await db.query<PoolControl>({ name: 'pool-control.read', text: `SELECT ${COLUMNS} FROM pool_controls WHERE pool = $1`, values: [pool] });
  return rows[0] ?? POOL_RUNNING;
}

export interface PoolControlChange {
  control: PoolControl;
  /** False when the pool already was in that state (an idempotent repeat: nothing was written). */
  changed: boolean;
}

/**
 * Pauses or resumes `pool` and records who did it, in one statement (so the state and its event
 * commit together). A repeat changes nothing: a paused pool keeps who paused it and when. The
 * caller announces a change with announcePoolControl after this returns (a NOTIFY inside the
 * statement's transaction would serialise commits database-wide, design.md "How a job travels").
 */
export async function setPoolPaused(db: Queryable, pool: string, paused: boolean, actor: string, reason: string | null): Promise<PoolControlChange> {
  const { rows } = await db.query<{ changed: boolean }>(
    `WITH changed AS (
       INSERT INTO pool_controls AS c (pool, paused, paused_by, paused_at, reason, updated_at)
       SELECT $1, $2, CASE WHEN $2 THEN $3 END, CASE WHEN $2 THEN now() END, CASE WHEN $2 THEN $4 END, now()
        -- Resuming a pool that was never paused writes nothing.
        WHERE $2 OR EXISTS (SELECT 1 FROM pool_controls WHERE pool = $1)
       ON CONFLICT (pool) DO UPDATE
          SET paused = EXCLUDED.paused, paused_by = EXCLUDED.paused_by, paused_at = EXCLUDED.paused_at,
              reason = EXCLUDED.reason, updated_at = now()
        WHERE c.paused IS DISTINCT FROM EXCLUDED.paused
       RETURNING pool
     ), event AS (
       INSERT INTO pool_control_events (pool, action, actor, reason)
       SELECT pool, CASE WHEN $2 THEN 'paused' ELSE 'resumed' END, $3, $4 FROM changed
     )
     SELECT count(*) > 0 AS changed FROM changed`,
    [pool, paused, actor, reason],
  );
  return { control: await readPoolControl(db, pool), changed: rows[0]!.changed };
}

export async function announcePoolControl(db: Queryable, pool: string): Promise<void> {
  await db.query('SELECT pg_notify($1, $2)', [POOL_CONTROL_CHANNEL, pool]);
}

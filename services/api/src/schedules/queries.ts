/** The `schedules` table as a ScheduleStore, and the runs (jobs) of a schedule. */
import { randomUUID } from 'node:crypto';
import type { Queryable } from '@conveyor/jobs';
import { fireKeyPrefix, loadScheduleRows, scheduleKey, rowToSchedule, type ScheduleRow } from '@conveyor/jobs/schedules';
import { HttpError } from '../http-errors.js';
import type { ScheduleStore, StoredSchedule } from './store.js';
import { MAX_SCHEDULES_PER_TENANT } from './schemas.js';

const COLUMNS = 'uid, tenant, name, spec, generation, status, created_by, created_at, updated_at';

function stored(row: ScheduleRow): StoredSchedule {
  return {
    name: row.name,
    tenant: row.tenant,
    uid: row.uid,
    key: scheduleKey(rowToSchedule(row)),
    spec: row.spec,
    createdAt: row.created_at,
    status: Object.keys(row.status ?? {}).length > 0 ? row.status : undefined,
    version: String(row.generation),
  };
}

export function postgresScheduleStore(db: Queryable): ScheduleStore {
  return {
    list: async (tenant) => (await loadScheduleRows(db, { tenant })).map(stored),
    get: async (tenant, name) => {
      const [row] = await loadScheduleRows(db, { tenant, name });
      return row && stored(row);
    },
    async create(tenant, name, spec, actor) {
      // The count and the insert in one statement: no window for a burst of creates to pass the cap.
      const { rows } = await db.query<ScheduleRow>(
        `INSERT INTO schedules (uid, tenant, name, spec, created_by)
         SELECT $1, $2, $3, $4, $5 WHERE (SELECT count(*) FROM schedules WHERE tenant = $2) < $6
         ON CONFLICT (tenant, name) DO NOTHING
         RETURNING ${COLUMNS}`,
        [randomUUID(), tenant, name, JSON.stringify(spec), actor, MAX_SCHEDULES_PER_TENANT],
      );
      if (rows[0]) return stored(rows[0]);
      if ((await loadScheduleRows(db, { tenant, name })).length > 0) throw new HttpError(409, `schedule "${name}" already exists`);
      throw new HttpError(409, `a tenant may have at most ${MAX_SCHEDULES_PER_TENANT} schedules`);
    },
    async update(from, spec) {
      const { rows } = await db.query<ScheduleRow>(
        `UPDATE schedules SET spec = $4, generation = generation + 1, updated_at = now()
          WHERE tenant = $1 AND name = $2 AND generation = $3
         RETURNING ${COLUMNS}`,
        [from.tenant, from.name, Number(from.version), JSON.stringify(spec)],
      );
      if (rows[0]) return stored(rows[0]);
      const [now] = await loadScheduleRows(db, { tenant: from.tenant, name: from.name });
      if (!now) return undefined;
      throw new HttpError(409, `schedule "${from.name}" changed while this request was applied; read it and retry`);
    },
    async remove(tenant, name) {
      const { rowCount } = await db.query('DELETE FROM schedules WHERE tenant = $1 AND name = $2', [tenant, name]);
      return (rowCount ?? 0) > 0;
    },
  };
}

export interface RunRow {
  id: string;
  status: string;
  idempotency_key: string;
  created_at: Date;
  finished_at: Date | null;
}

/**
 * The newest runs of a schedule: its fires (key `schedule:<uid>:<fire time>`) and trigger-nows
 * (`schedule:<uid>:now:<time>`), each a backward range scan of jobs_schedule_runs (byte order, so
 * the ranges are exact whatever the database's collation), merged newest first.
 */
export async function scheduleRuns(db: Queryable, tenant: string, uid: string, limit: number): Promise<RunRow[]> {
  const prefix = fireKeyPrefix(uid);
  const { rows } = await db.query<RunRow>(
    `(SELECT id, status, idempotency_key, created_at, finished_at FROM jobs
       WHERE tenant = $1 AND idempotency_key LIKE 'schedule:%'
         AND (idempotency_key COLLATE "C") >= $2 AND (idempotency_key COLLATE "C") < $3
       ORDER BY (idempotency_key COLLATE "C") DESC LIMIT $6)
     UNION ALL
     (SELECT id, status, idempotency_key, created_at, finished_at FROM jobs
       WHERE tenant = $1 AND idempotency_key LIKE 'schedule:%'
         AND (idempotency_key COLLATE "C") >= $4 AND (idempotency_key COLLATE "C") < $5
       ORDER BY (idempotency_key COLLATE "C") DESC LIMIT $6)
     ORDER BY created_at DESC LIMIT $6`,
    // Fire times start with a digit ('0'..'9' sort before ':'); trigger-nows follow 'now:'.
    [tenant, `${prefix}0`, `${prefix}:`, `${prefix}now:`, `${prefix}now;`, limit],
  );
  return rows;
}

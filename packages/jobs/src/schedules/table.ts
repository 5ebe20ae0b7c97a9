/**
 * The `schedules` table (migration 0015): JobSchedules kept in Postgres outside Kubernetes. The api
 * writes it, the scheduler's leader reads it (Postgres source) and writes each row's status.
 */
import type { Queryable } from '../store/create.js';
import { KIND, GROUP, VERSION, TENANT_KEY, type JobScheduleObject, type JobScheduleStatus } from './job-schedule.js';

/** NOTIFYed by a trigger after every change of a row's spec (payload: its uid). */
export const SCHEDULES_CHANNEL = 'conveyor_schedules';

export interface ScheduleRow {
  uid: string;
  tenant: string;
  name: string;
  spec: Record<string, unknown>;
  generation: number;
  status: JobScheduleStatus;
  created_by: string;
  created_at: Date;
  updated_at: Date;
}

/** A row as the JobSchedule object the controller and the api's views take: namespace = tenant. */
export function rowToSchedule(row: ScheduleRow): JobScheduleObject {
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: KIND,
    metadata: {
      name: row.name,
      namespace: row.tenant,
      uid: row.uid,
      generation: row.generation,
      creationTimestamp: row.created_at,
      labels: { [TENANT_KEY]: row.tenant },
    },
    spec: row.spec,
    status: row.status,
  };
}

export async function loadScheduleRows(db: Queryable, where: { tenant?: string | null; name?: string } = {}): Promise<ScheduleRow[]> {
  const { rows } = await db.query<ScheduleRow>(
    `SELECT uid, tenant, name, spec, generation, status, created_by, created_at, updated_at FROM schedules
      WHERE ($1::text IS NULL OR tenant = $1) AND ($2::text IS NULL OR name = $2)
      ORDER BY tenant, name`,
    [where.tenant ?? null, where.name ?? null],
  );
  return rows;
}

export async function writeScheduleStatus(db: Queryable, uid: string, status: JobScheduleStatus): Promise<void> {
  await db.query('UPDATE schedules SET status = $2 WHERE uid = $1', [uid, JSON.stringify(status)]);
}

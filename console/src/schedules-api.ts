/** /schedules: a tenant's cron schedules of jobs (reads: jobs:read; changes: jobs:write). */
import { getJson, sendJson } from './api';

export interface ScheduleRun {
  jobId: string;
  status: string;
  phase: string | null;
  trigger: 'schedule' | 'manual';
  fireTime: string | null;
  createdAt: string;
  finishedAt: string | null;
}

export interface Schedule {
  name: string;
  tenant: string;
  schedule: string;
  timeZone: string | null;
  jobType: string;
  payload: unknown;
  suspend: boolean;
  concurrencyPolicy: 'Allow' | 'Forbid' | 'Replace';
  startingDeadlineSeconds: number | null;
  createdAt: string | null;
  nextFireTimes: string[];
  lastRuns: ScheduleRun[];
  scheduler: { lastScheduleTime: string | null; ready: boolean; reason: string; message: string } | null;
}

export interface NewSchedule {
  name: string;
  schedule: string;
  timeZone?: string;
  jobType: string;
  payload: unknown;
  concurrencyPolicy?: Schedule['concurrencyPolicy'];
}

/** An admin's schedule of another tenant is addressed with ?tenant=. */
const path = (s: Pick<Schedule, 'name' | 'tenant'>, own: string, suffix = '') =>
  `/schedules/${encodeURIComponent(s.name)}${suffix}${s.tenant === own ? '' : `?tenant=${encodeURIComponent(s.tenant)}`}`;

export function listSchedules(signal: AbortSignal): Promise<Schedule[]> {
  return getJson<{ items: Schedule[] }>('/schedules', { signal }).then((r) => r.items);
}

export function createSchedule(body: NewSchedule): Promise<Schedule> {
  return sendJson<Schedule>('POST', '/schedules', body);
}

export function scheduleAction(s: Schedule, own: string, action: 'pause' | 'resume' | 'trigger'): Promise<Schedule | { jobId: string; schedule: Schedule }> {
  return sendJson('POST', path(s, own, `/${action}`), {});
}

export function deleteSchedule(s: Schedule, own: string): Promise<unknown> {
  return sendJson('DELETE', path(s, own));
}

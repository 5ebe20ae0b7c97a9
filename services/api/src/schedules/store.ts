/**
 * Where the api keeps JobSchedules: the `schedules` table (queries.ts) or, on Kubernetes, the
 * JobSchedule custom resources the scheduler watches (kubernetes.store.ts). Both answer alike; a
 * name is unique within its tenant.
 */
import type { JobScheduleStatus } from '@conveyor/jobs/schedules';

export interface StoredSchedule {
  name: string;
  tenant: string;
  /** Part of every fire's idempotency key: finds the schedule's runs among the tenant's jobs. */
  uid: string;
  /** The scheduler's key for it (namespace/name), the owner of its jobs. */
  key: string;
  spec: Record<string, unknown>;
  createdAt: Date | null;
  status: JobScheduleStatus | undefined;
  /** Optimistic concurrency: an update applies only to the version it was computed from. */
  version: string;
}

export interface ScheduleStore {
  /** One tenant's schedules, or (null) every tenant's. */
  list(tenant: string | null): Promise<StoredSchedule[]>;
  get(tenant: string, name: string): Promise<StoredSchedule | undefined>;
  /** Throws HttpError 409 when the tenant has a schedule of that name. */
  create(tenant: string, name: string, spec: Record<string, unknown>, actor: string): Promise<StoredSchedule>;
  /** Undefined when it is gone; HttpError 409 when it changed since `from` was read. */
  update(from: StoredSchedule, spec: Record<string, unknown>): Promise<StoredSchedule | undefined>;
  remove(tenant: string, name: string): Promise<boolean>;
}

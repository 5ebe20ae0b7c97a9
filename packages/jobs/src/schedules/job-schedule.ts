import { z } from 'zod';
import { Cron } from 'croner';
import { jobType } from '../catalog.js';

/**
 * Glossary. JobSchedule: the custom resource (or a YAML document in a folder outside Kubernetes)
 * declaring a cron schedule of jobs. Fire time: one instant the cron expression selects; each fire
 * time creates at most one job. uid: the object's identity, part of every fire's idempotency key.
 */
export const GROUP = 'conveyor.dev';
export const VERSION = 'v1alpha1';
export const PLURAL = 'jobschedules';
export const KIND = 'JobSchedule';
export const TENANT_KEY = 'conveyor.dev/tenant';

export interface Condition {
  type: 'Ready' | 'InvalidSpec';
  status: 'True' | 'False';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration: number;
}

export interface JobScheduleStatus {
  lastScheduleTime?: string;
  nextScheduleTime?: string;
  lastJobId?: string;
  observedGeneration?: number;
  conditions?: Condition[];
}

export interface JobScheduleObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    generation?: number;
    creationTimestamp?: string | Date;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: unknown;
  status?: JobScheduleStatus;
}

export const concurrencyPolicies = ['Allow', 'Forbid', 'Replace'] as const;

export const jobScheduleSpec = z.object({
  schedule: z.string().min(1),
  timeZone: z.string().min(1).optional(),
  jobType: z.string().min(1),
  payload: z.unknown().default({}),
  suspend: z.boolean().default(false),
  concurrencyPolicy: z.enum(concurrencyPolicies).default('Allow'),
  startingDeadlineSeconds: z.number().int().min(0).optional(),
});

export type JobScheduleSpec = z.infer<typeof jobScheduleSpec>;

export type SpecValidation = { ok: true; spec: JobScheduleSpec; cron: Cron } | { ok: false; message: string };

/**
 * Everything the API server cannot check (cron semantics, time zone names, the job type and its
 * payload schema) checked here, so a bad spec becomes an InvalidSpec condition, never a crash.
 */
export function validateSpec(raw: unknown): SpecValidation {
  const parsed = jobScheduleSpec.safeParse(raw ?? {});
  if (!parsed.success) {
    return { ok: false, message: parsed.error.issues.map((i) => `spec.${i.path.join('.')}: ${i.message}`).join('; ') };
  }
  const spec = parsed.data;
  let cron: Cron;
  try {
    cron = new Cron(spec.schedule, { paused: true, timezone: spec.timeZone });
    // Croner checks the zone lazily; ask for one fire time to surface a bad zone now.
    cron.nextRun(new Date(0));
  } catch (error) {
    return { ok: false, message: `spec.schedule/timeZone: ${error instanceof Error ? error.message : String(error)}` };
  }
  const type = jobType(spec.jobType);
  if (!type) return { ok: false, message: `spec.jobType: unknown job type "${spec.jobType}"` };
  const payload = type.payload.safeParse(spec.payload);
  if (!payload.success) {
    return { ok: false, message: `spec.payload: ${payload.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}` };
  }
  return { ok: true, spec: { ...spec, payload: payload.data }, cron };
}

export function scheduleKey(obj: JobScheduleObject): string {
  return `${obj.metadata.namespace ?? 'default'}/${obj.metadata.name}`;
}

/** Kubernetes gives every object a uid; a folder document without one gets a stable stand-in. */
export function scheduleUid(obj: JobScheduleObject): string {
  return obj.metadata.uid ?? `folder:${scheduleKey(obj)}`;
}

export function scheduleTenant(obj: JobScheduleObject, fallback: string): string {
  return obj.metadata.labels?.[TENANT_KEY] ?? obj.metadata.annotations?.[TENANT_KEY] ?? fallback;
}

/** The same key for the same schedule and fire time, whichever replica or restart computes it. */
export function fireIdempotencyKey(uid: string, fireTime: Date): string {
  return `${fireKeyPrefix(uid)}${fireTime.toISOString()}`;
}

export function fireKeyPrefix(uid: string): string {
  return `schedule:${uid}:`;
}

/** A trigger-now: a run of the schedule outside its cron times, under the same prefix so it lists with the fires. */
export function triggerIdempotencyKey(uid: string, at: Date): string {
  return `${fireKeyPrefix(uid)}now:${at.toISOString()}`;
}

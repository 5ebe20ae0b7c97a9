import type { Cron } from 'croner';
import type { Condition, JobScheduleSpec, JobScheduleStatus } from './job-schedule.js';

/** Like a Kubernetes CronJob: beyond this many missed fire times something is badly wrong. */
export const MAX_MISSED = 100;

export interface PreviousJob {
  id: string;
  finished: boolean;
}

export interface DecideInput {
  spec: JobScheduleSpec;
  cron: Cron;
  now: Date;
  /** The last fire time that created a job; absent before the first. */
  lastScheduleTime?: Date;
  /** When the schedule came into being: fire times before it never count. */
  createdAt: Date;
  previousJob?: PreviousJob;
}

export interface ScheduleEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export type Decision =
  | { action: 'fire'; fireTime: Date; cancelJobId?: string; next: Date | null; events: ScheduleEvent[] }
  | { action: 'wait'; next: Date | null; events: ScheduleEvent[] }
  | { action: 'skip'; reason: 'Suspended' | 'JobAlreadyActive'; fireTime?: Date; next: Date | null; events: ScheduleEvent[] };

export interface MissedFires {
  /** The latest fire time in (after, until], if any. */
  mostRecent: Date | null;
  /** How many fire times fell in the window, counted up to MAX_MISSED + 1. */
  count: number;
}

/** Fire times in (after, until]: the latest one and how many (bounded work however long the gap). */
export function missedFires(cron: Cron, after: Date, until: Date): MissedFires {
  let count = 0;
  let mostRecent: Date | null = null;
  let t = cron.nextRun(after);
  while (t && t.getTime() <= until.getTime()) {
    count++;
    mostRecent = t;
    if (count > MAX_MISSED) break;
    t = cron.nextRun(t);
  }
  if (count <= MAX_MISSED) return { mostRecent, count };
  // Too many to walk: find the latest by widening a window back from `until` until it holds one.
  for (let width = 1_000; ; width *= 2) {
    const from = new Date(Math.max(after.getTime(), until.getTime() - width));
    let latest: Date | null = null;
    for (let u = cron.nextRun(from); u && u.getTime() <= until.getTime(); u = cron.nextRun(u)) latest = u;
    if (latest || from.getTime() === after.getTime()) return { mostRecent: latest, count };
  }
}

/**
 * What to do now for one schedule, as data: fire the most recent due fire time (only that one,
 * like a CronJob; older ones are skipped), wait, or skip (suspended; Forbid with a job running).
 * startingDeadlineSeconds bounds how late a fire may still happen.
 */
export function decide(input: DecideInput): Decision {
  const { spec, cron, now, previousJob } = input;
  const next = cron.nextRun(now);
  if (spec.suspend) return { action: 'skip', reason: 'Suspended', next: null, events: [] };

  let earliest = input.lastScheduleTime ?? input.createdAt;
  const events: ScheduleEvent[] = [];
  if (spec.startingDeadlineSeconds !== undefined) {
    const deadline = new Date(now.getTime() - spec.startingDeadlineSeconds * 1000);
    if (deadline.getTime() > earliest.getTime()) {
      const late = missedFires(cron, earliest, deadline);
      if (late.count > 0) {
        events.push({
          type: 'Warning',
          reason: 'MissedSchedule',
          message: `${late.count > MAX_MISSED ? `more than ${MAX_MISSED}` : late.count} fire time(s) up to ${late.mostRecent!.toISOString()} are past startingDeadlineSeconds=${spec.startingDeadlineSeconds} and were skipped`,
        });
      }
      earliest = deadline;
    }
  }

  const due = missedFires(cron, earliest, now);
  if (!due.mostRecent) return { action: 'wait', next, events };
  if (due.count > MAX_MISSED) {
    events.push({
      type: 'Warning',
      reason: 'TooManyMissedTimes',
      message: `more than ${MAX_MISSED} fire times were missed; firing only the latest. Set startingDeadlineSeconds to bound catch-up.`,
    });
  } else if (due.count > 1) {
    events.push({ type: 'Normal', reason: 'MissedSchedule', message: `${due.count - 1} earlier fire time(s) were skipped; firing only the latest` });
  }

  const active = previousJob && !previousJob.finished ? previousJob : undefined;
  if (active && spec.concurrencyPolicy === 'Forbid') {
    events.push({
      type: 'Normal',
      reason: 'JobAlreadyActive',
      message: `not firing ${due.mostRecent.toISOString()}: job ${active.id} is still running and concurrencyPolicy is Forbid`,
    });
    return { action: 'skip', reason: 'JobAlreadyActive', fireTime: due.mostRecent, next, events };
  }
  const cancelJobId = active && spec.concurrencyPolicy === 'Replace' ? active.id : undefined;
  return { action: 'fire', fireTime: due.mostRecent, ...(cancelJobId ? { cancelJobId } : {}), next, events };
}

export interface StatusInput {
  previous: JobScheduleStatus | undefined;
  generation: number;
  now: Date;
  /** A validation error: the spec cannot be scheduled. */
  invalid?: string;
  decision?: Decision;
  /** The job a fire created (or found already created for that fire time). */
  firedJobId?: string;
}

/**
 * The status to write after a reconcile. Conditions keep their lastTransitionTime while their
 * status stays the same, so rewriting an unchanged status is a no-op for watchers.
 */
export function nextStatus(input: StatusInput): JobScheduleStatus {
  const { previous, generation, now, invalid, decision, firedJobId } = input;
  const status: JobScheduleStatus = { ...previous, observedGeneration: generation };
  const condition = (type: Condition['type'], value: Condition['status'], reason: string, message: string): Condition => {
    const old = previous?.conditions?.find((c) => c.type === type);
    const lastTransitionTime = old && old.status === value ? old.lastTransitionTime : now.toISOString();
    return { type, status: value, reason, message, lastTransitionTime, observedGeneration: generation };
  };
  if (invalid !== undefined) {
    delete status.nextScheduleTime;
    status.conditions = [
      condition('Ready', 'False', 'InvalidSpec', invalid),
      condition('InvalidSpec', 'True', 'InvalidSpec', invalid),
    ];
    return status;
  }
  if (decision?.action === 'fire' && firedJobId) {
    status.lastScheduleTime = decision.fireTime.toISOString();
    status.lastJobId = firedJobId;
  }
  if (decision?.next) status.nextScheduleTime = decision.next.toISOString();
  else delete status.nextScheduleTime;
  const suspended = decision?.action === 'skip' && decision.reason === 'Suspended';
  status.conditions = [
    condition('Ready', 'True', suspended ? 'Suspended' : 'Scheduled', suspended ? 'schedule is suspended' : 'schedule is valid and active'),
    condition('InvalidSpec', 'False', 'Valid', 'spec is valid'),
  ];
  return status;
}

/** Equal statuses need no write (and no watch event that would reconcile again). */
export function sameStatus(a: JobScheduleStatus | undefined, b: JobScheduleStatus): boolean {
  return JSON.stringify(normalise(a ?? {})) === JSON.stringify(normalise(b));
}

function normalise(s: JobScheduleStatus): JobScheduleStatus {
  return {
    lastScheduleTime: s.lastScheduleTime,
    nextScheduleTime: s.nextScheduleTime,
    lastJobId: s.lastJobId,
    observedGeneration: s.observedGeneration,
    conditions: s.conditions
      ?.map((c) => ({ type: c.type, status: c.status, reason: c.reason, message: c.message, lastTransitionTime: c.lastTransitionTime, observedGeneration: c.observedGeneration }))
      .sort((x, y) => x.type.localeCompare(y.type)),
  };
}

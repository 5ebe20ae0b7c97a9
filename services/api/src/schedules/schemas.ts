/** /schedules: cron schedules of jobs (JobSchedules) managed over HTTP. */
import { z } from 'zod';
import { concurrencyPolicies } from '@conveyor/jobs/schedules';

/** A Kubernetes object name's shape (DNS-1123 label), so the same name works on both stores. */
export const scheduleName = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'lower-case letters, digits and -, starting and ending with a letter or digit')
  .describe('Unique within the tenant.');

export const scheduleNameParam = z.object({ name: scheduleName });

/** With conveyor:admin, `?tenant=` addresses another tenant's schedule (names are unique per tenant only). */
export const scheduleTenantQuery = z.object({ tenant: z.string().min(1).max(128).optional() }).strict();

const specFields = {
  schedule: z
    .string()
    .min(1)
    .max(200)
    .describe('Cron expression: 5 fields (minute precision) or 6 (a leading seconds field), as croner reads it; also @hourly, @daily and the like.'),
  timeZone: z.string().min(1).max(64).nullable().describe('IANA zone the expression is read in; null or absent means UTC.'),
  jobType: z.string().min(1).max(128).describe('A registered, built-in job type.'),
  payload: z.unknown().describe('The payload of every job the schedule creates, validated like a submit\'s.'),
  suspend: z.boolean().describe('A suspended (paused) schedule creates no jobs; fire times passed meanwhile are not made up for.'),
  concurrencyPolicy: z.enum(concurrencyPolicies).describe('When the previous run is still going: Allow another, Forbid (skip this fire), or Replace (cancel it).'),
  startingDeadlineSeconds: z.number().int().min(0).max(86_400).nullable().describe('How late a fire may still happen (after a scheduler outage); null means no bound.'),
};

export const createScheduleBody = z
  .object({
    name: scheduleName,
    schedule: specFields.schedule,
    timeZone: specFields.timeZone.optional(),
    jobType: specFields.jobType,
    payload: specFields.payload.optional(),
    suspend: specFields.suspend.optional(),
    concurrencyPolicy: specFields.concurrencyPolicy.optional(),
    startingDeadlineSeconds: specFields.startingDeadlineSeconds.optional(),
  })
  .strict();

/** PATCH: the fields given replace the schedule's; the rest stay. */
export const updateScheduleBody = z
  .object({
    schedule: specFields.schedule.optional(),
    timeZone: specFields.timeZone.optional(),
    jobType: specFields.jobType.optional(),
    payload: specFields.payload.optional(),
    suspend: specFields.suspend.optional(),
    concurrencyPolicy: specFields.concurrencyPolicy.optional(),
    startingDeadlineSeconds: specFields.startingDeadlineSeconds.optional(),
  })
  .strict();

export const scheduleRun = z.object({
  jobId: z.uuid(),
  status: z.enum(['running', 'success', 'failed', 'cancelled']),
  phase: z.string().nullable().describe('Where a running job is (scheduled, queued, processing, retrying); null once it ended.'),
  trigger: z.enum(['schedule', 'manual']).describe('A cron fire, or a trigger-now.'),
  fireTime: z.iso.datetime().nullable().describe('The cron time the job was created for; null for a trigger-now.'),
  createdAt: z.iso.datetime(),
  finishedAt: z.iso.datetime().nullable(),
});

export const NEXT_FIRE_TIMES = 5;
export const LAST_RUNS = 10;

export const scheduleView = z.object({
  name: scheduleName,
  tenant: z.string(),
  schedule: specFields.schedule,
  timeZone: specFields.timeZone,
  jobType: specFields.jobType,
  payload: specFields.payload,
  suspend: specFields.suspend,
  concurrencyPolicy: specFields.concurrencyPolicy,
  startingDeadlineSeconds: specFields.startingDeadlineSeconds,
  createdAt: z.iso.datetime().nullable(),
  nextFireTimes: z.array(z.iso.datetime()).describe(`The next ${NEXT_FIRE_TIMES} fire times; empty while suspended.`),
  lastRuns: z.array(scheduleRun).describe(`The last ${LAST_RUNS} jobs the schedule created, newest first.`),
  scheduler: z
    .object({
      lastScheduleTime: z.iso.datetime().nullable(),
      ready: z.boolean(),
      reason: z.string(),
      message: z.string(),
    })
    .nullable()
    .describe('What the scheduler last reported for this schedule (its status); null until it has seen it.'),
});

export const scheduleList = z.object({ items: z.array(scheduleView) });

export const triggerReply = z.object({ jobId: z.uuid(), statusUrl: z.string(), schedule: scheduleView });

/** Each tenant's schedules are bounded: every one is a standing stream of jobs. */
export const MAX_SCHEDULES_PER_TENANT = 100;

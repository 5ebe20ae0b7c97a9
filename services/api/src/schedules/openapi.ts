/** The /schedules operations in the OpenAPI document (openapi.ts passes its helpers in). */
import type { RouteConfig } from '@asteasolutions/zod-to-openapi';
import type { z } from 'zod';
import {
  createScheduleBody,
  LAST_RUNS,
  MAX_SCHEDULES_PER_TENANT,
  NEXT_FIRE_TIMES,
  scheduleList,
  scheduleNameParam,
  scheduleTenantQuery,
  scheduleView,
  triggerReply,
  updateScheduleBody,
} from './schemas.js';

type Responses = RouteConfig['responses'];
interface Helpers {
  route: (config: RouteConfig) => void;
  json: (schema: z.ZodType, example?: unknown) => Record<string, { schema: z.ZodType; example?: unknown }>;
  error: (description: string) => Responses[string];
}

const SCHEDULE = {
  name: 'nightly-report',
  tenant: 'acme',
  schedule: '0 2 * * *',
  timeZone: 'Europe/Berlin',
  jobType: 'report.generate',
  payload: { format: 'csv' },
  suspend: false,
  concurrencyPolicy: 'Forbid',
  startingDeadlineSeconds: 600,
  createdAt: '2030-01-30T09:00:00.000Z',
  nextFireTimes: ['2030-02-01T01:00:00.000Z', '2030-02-02T01:00:00.000Z', '2030-02-03T01:00:00.000Z', '2030-02-04T01:00:00.000Z', '2030-02-05T01:00:00.000Z'],
  lastRuns: [
    {
      jobId: '3f6c2b1a-9d4e-4c7b-8a21-5e0f6d7c8b9a', status: 'success', phase: null, trigger: 'schedule', fireTime: '2030-01-31T01:00:00.000Z',
      createdAt: '2030-01-31T01:00:00.004Z', finishedAt: '2030-01-31T01:00:02.310Z',
    },
  ],
  scheduler: { lastScheduleTime: '2030-01-31T01:00:00.000Z', ready: true, reason: 'Scheduled', message: 'schedule is valid and active' },
} satisfies z.input<typeof scheduleView>;
const PAUSED = { ...SCHEDULE, suspend: true, nextFireTimes: [], scheduler: { ...SCHEDULE.scheduler, reason: 'Suspended', message: 'schedule is suspended' } };
const CREATE = { name: 'nightly-report', schedule: '0 2 * * *', timeZone: 'Europe/Berlin', jobType: 'report.generate', payload: { format: 'csv' }, concurrencyPolicy: 'Forbid', startingDeadlineSeconds: 600 };
const TRIGGERED_JOB = '8b1f0c2d-4e5a-4f6b-9c7d-0e1f2a3b4c5d';

export function registerScheduleOperations({ route, json, error }: Helpers): void {
  const params = scheduleNameParam;
  const query = scheduleTenantQuery;
  const tenantNote = 'With scope conveyor:admin, `?tenant=` addresses another tenant\'s schedule; for anyone else another tenant\'s schedule does not exist (404).';
  const one = (description: string, example: unknown = SCHEDULE) => ({ description, content: json(scheduleView, example) });
  const invalid = {
    400: error('Invalid body: `details` holds the zod issues (an unknown field, a bad name, a wrong type).'),
    413: error('Body over the limit.'),
    415: error('Body is not JSON.'),
    422: error('The schedule cannot run: a cron expression or time zone croner refuses, an unknown, retired or non-built-in job type, or a payload its schema refuses (`error` says why, `details` names the field).'),
  };
  route({
    method: 'get',
    path: '/schedules',
    summary: 'The cron schedules of the caller\'s tenant (every tenant\'s with conveyor:admin), with next fire times and last runs (scope jobs:read)',
    request: { query },
    responses: {
      200: { description: `Every schedule by tenant and name, each with its next ${NEXT_FIRE_TIMES} fire times and last ${LAST_RUNS} runs.`, content: json(scheduleList, { items: [SCHEDULE] }) },
      403: error('`?tenant=` names another tenant without scope conveyor:admin.'),
    },
  });
  route({
    method: 'post',
    path: '/schedules',
    summary: 'Create a cron schedule of jobs (scope jobs:write)',
    description: `A schedule creates one job of its type per fire time, in the tenant it belongs to, as the scheduler's leader fires it (on Kubernetes it is a JobSchedule custom resource, elsewhere a row in Postgres). At most ${MAX_SCHEDULES_PER_TENANT} per tenant. ${tenantNote}`,
    request: { query, body: { required: true, content: { 'application/json': { schema: createScheduleBody, example: CREATE } } } },
    responses: {
      201: { ...one('Created.'), headers: { Location: { schema: { type: 'string' } } } },
      ...invalid,
      403: error('Missing scope jobs:write, or `?tenant=` names another tenant without conveyor:admin.'),
      409: error(`The tenant has a schedule of that name, or already ${MAX_SCHEDULES_PER_TENANT}.`),
    },
  });
  route({
    method: 'get',
    path: '/schedules/{name}',
    summary: 'One schedule with its next fire times and last runs (scope jobs:read)',
    description: tenantNote,
    request: { params, query },
    responses: { 200: one('The schedule.'), 404: error('schedule not found') },
  });
  route({
    method: 'patch',
    path: '/schedules/{name}',
    summary: 'Change a schedule: the fields given replace its own, null clears an optional one (scope jobs:write)',
    description: `The whole result is validated as a create is. A change equal to the schedule writes nothing. ${tenantNote}`,
    request: { params, query, body: { required: true, content: { 'application/json': { schema: updateScheduleBody, example: { schedule: '30 3 * * *', timeZone: null } } } } },
    responses: {
      200: one('The schedule after the change.', { ...SCHEDULE, schedule: '30 3 * * *', timeZone: null }),
      ...invalid,
      404: error('schedule not found'),
      409: error('The schedule changed while the request was applied; read it and retry.'),
    },
  });
  route({
    method: 'delete',
    path: '/schedules/{name}',
    summary: 'Delete a schedule; the jobs it created stay (scope jobs:write)',
    description: tenantNote,
    request: { params, query },
    responses: { 204: { description: 'Deleted: it fires no more.' }, 404: error('schedule not found') },
  });
  const suspendResponses = (example: unknown) => ({
    200: one('The schedule after the call (the same answer when it already was in that state).', example),
    400: error('A body other than `{}`.'),
    404: error('schedule not found'),
    409: error('The schedule changed while the request was applied; read it and retry.'),
    415: error('Body is not JSON.'),
  });
  route({
    method: 'post',
    path: '/schedules/{name}/pause',
    summary: 'Pause (suspend) a schedule: no jobs until it is resumed (scope jobs:write)',
    description: `Idempotent. Fire times that pass while paused are not made up for on resume. ${tenantNote}`,
    request: { params, query },
    responses: suspendResponses(PAUSED),
  });
  route({
    method: 'post',
    path: '/schedules/{name}/resume',
    summary: 'Resume a paused schedule from its next fire time (scope jobs:write)',
    description: `Idempotent. ${tenantNote}`,
    request: { params, query },
    responses: suspendResponses(SCHEDULE),
  });
  route({
    method: 'post',
    path: '/schedules/{name}/trigger',
    summary: 'Run a schedule now: one job at once, outside its cron times, listed among its runs as `manual` (scope jobs:write)',
    description: `Works on a paused schedule too. ${tenantNote}`,
    request: { params, query },
    responses: {
      202: {
        description: 'The job is stored and will run.',
        headers: { Location: { description: 'The job status URL.', schema: { type: 'string' } }, 'Retry-After': { schema: { type: 'integer', minimum: 1 } } },
        content: json(triggerReply, {
          jobId: TRIGGERED_JOB,
          statusUrl: `/jobs/${TRIGGERED_JOB}`,
          schedule: { ...SCHEDULE, lastRuns: [{ jobId: TRIGGERED_JOB, status: 'running', phase: 'queued', trigger: 'manual', fireTime: null, createdAt: '2030-01-31T09:30:00.000Z', finishedAt: null }, ...SCHEDULE.lastRuns] },
        }),
      },
      400: error('A body other than `{}`.'),
      404: error('schedule not found'),
      409: error('The schedule\'s stored spec is invalid (a custom resource edited by hand).'),
      415: error('Body is not JSON.'),
    },
  });
}

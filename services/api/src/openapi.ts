/**
 * The OpenAPI 3.1 document, generated from the zod schemas in schemas.ts and the job type catalog:
 * nothing here restates a field by hand.
 */
import { OpenAPIRegistry, OpenApiGeneratorV31, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { JOB_EVENT_TYPES } from '@conveyor/jobs';
import {
  balanceReply,
  cancelReply,
  createJobBodies,
  errorReply,
  generateReportBody,
  idempotencyKey,
  jobAcceptedReply,
  jobIdParam,
  jobView,
  notificationIdParam,
  notificationsReply,
  reservationAcceptedReply,
  reservationBody,
  userIdParam,
} from './schemas.js';
import { MAX_BATCH_JOBS, batchBodyDocument, batchInvalidDetails, batchReply } from './batch/schemas.js';
import { MAX_REDRIVE, deadLetterPage, listDeadLettersQuery, redriveBody, redriveReply } from './dlq/schemas.js';
import { historyQuery, pauseBody, poolHistory, poolList, poolNameParam, poolStatus } from './pools/schemas.js';
import { quotaLimits, quotaList, tenantParam, tenantQuota } from './quotas/schemas.js';
import { retryReply } from './retry/schemas.js';
import { countJobsQuery, jobCountsReply, jobListReply, searchJobsQuery } from './search/schemas.js';
import { jobFeedQuery } from './events/feed.schema.js';
import { deliveryList, deliveryParams, deliveryView, rotateSecretBody, webhookSecretReply } from './webhooks/schemas.js';
import { preferHeader, waitedHeaders } from './wait/schemas.js';
import { registerScheduleOperations } from './schedules/openapi.js';
import { registerFlowOperations } from './flows/openapi.js';
import { registerPauseOperations } from './pauses/openapi.js';
import { EXAMPLE_JOB_TYPE, jobTypeDetailView, jobTypeListReply, jobTypeNameParam, putJobTypeBody } from './job-types/schemas.js';

type Responses = RouteConfig['responses'];

/**
 * Named components through zod's own `.meta({ id })` (read by the generator): `.openapi()` would
 * need zod's prototypes patched before any schema exists, including those of @conveyor/jobs. Built
 * once, as an id may be registered only once per process.
 */
const ErrorSchema = errorReply.meta({ id: 'Error' });
const JobAccepted = jobAcceptedReply.meta({ id: 'JobAccepted' });
const Job = jobView.meta({ id: 'Job' });
// anyOf, not a discriminated union: a registered type's body is the catch-all beside the built-ins.
const CreateJob = z.union(createJobBodies() as [z.ZodObject, ...z.ZodObject[]]).meta({ id: 'CreateJob' });
const JobType = jobTypeDetailView.meta({ id: 'JobType' });
/** The README's type, as the registry answers once it is registered (and later retired). */
const JOB_TYPE_VERSION = {
  name: 'billing.invoice-send', version: 1, ...EXAMPLE_JOB_TYPE, priority: 'normal', maxPayloadBytes: 65536, resultRetentionSeconds: null,
  createdAt: '2026-12-06T09:00:00.000Z',
};
const JOB_TYPE = {
  name: 'billing.invoice-send', latestVersion: 1, retiredAt: null, createdAt: '2026-12-06T09:00:00.000Z', updatedAt: '2026-12-06T09:00:00.000Z',
  latest: JOB_TYPE_VERSION,
};

/** One example per operation, consistent with each other (the same job throughout). */
const JOB_ID = '3f6c2b1a-9d4e-4c7b-8a21-5e0f6d7c8b9a';
const ex = {
  jobId: JOB_ID,
  accepted: { jobId: JOB_ID, statusUrl: `/jobs/${JOB_ID}` },
  createJob: { type: 'sleep', payload: { ms: 500 }, priority: 'high', maxAttempts: 3, timeoutSeconds: 30 },
  runningJob: {
    jobId: JOB_ID, type: 'sleep', status: 'running', phase: 'processing', progress: 0.4, attempts: 1, maxAttempts: 3,
    createdAt: '2026-12-06T10:00:00.000Z', updatedAt: '2026-12-06T10:00:00.800Z', startedAt: '2026-12-06T10:00:00.120Z', traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    tenant: 'acme', tags: [], payload: { ms: 500 },
  },
  finishedJob: {
    jobId: JOB_ID, type: 'sleep', status: 'success', attempts: 1, maxAttempts: 3,
    createdAt: '2026-12-06T10:00:00.000Z', updatedAt: '2026-12-06T10:00:00.700Z', startedAt: '2026-12-06T10:00:00.120Z', finishedAt: '2026-12-06T10:00:00.690Z',
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736', downloadUrl: `/jobs/${JOB_ID}/result`, tenant: 'acme', tags: [], payload: { ms: 500 },
  },
  failedJob: {
    jobId: JOB_ID, type: 'sleep', status: 'failed', attempts: 3, maxAttempts: 3, tenant: 'acme', tags: [],
    createdAt: '2026-12-06T10:00:00.000Z', updatedAt: '2026-12-06T10:01:31.000Z', startedAt: '2026-12-06T10:01:00.120Z', finishedAt: '2026-12-06T10:01:30.990Z',
    error: 'timed out after 30 s',
  },

  secrets: {
    current: { id: '0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a', secret: 'whsec_3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', createdAt: '2026-12-01T09:00:00.000Z', expiresAt: null },
    previous: null,
  },
  rotatedSecrets: {
    current: { id: '7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d', secret: 'whsec_Zm9vYmFyYmF6cXV4AAAAAAAAAAAAAAAAAAAAAAAA', createdAt: '2026-12-06T10:00:00.000Z', expiresAt: null },
    previous: { id: '0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a', secret: 'whsec_3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', createdAt: '2026-12-01T09:00:00.000Z', expiresAt: '2026-12-06T11:00:00.000Z' },
  },
};

export function buildOpenApiDocument(): Record<string, unknown> {
  const registry = new OpenAPIRegistry();
  const bearer = registry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
  const security = [{ [bearer.name]: [] }];


  const json = (schema: z.ZodType, example?: unknown) => ({ 'application/json': example === undefined ? { schema } : { schema, example } });
  const error = (description: string) => ({ description, content: json(ErrorSchema) });
  const retryAfter = { 'Retry-After': { description: 'Seconds to wait before polling, estimated from the backlog ahead.', schema: { type: 'integer' as const, minimum: 1, maximum: 60 } } };
  const accepted = (schema: z.ZodType, example: unknown = ex.accepted): Responses[string] => ({
    description: 'Accepted: the job is stored and will run.',
    headers: { Location: { description: 'The job status URL.', schema: { type: 'string' } }, ...retryAfter },
    content: json(schema, example),
  });
  const common: Responses = { 401: error('Not authenticated.'), 403: error('Missing scope.'), 429: error('Rate limited.'), 500: error('Internal error.') };
  // Any operation: a path, query or header holding NUL, an unpaired surrogate or bytes that are not UTF-8.
  const malformed: Responses = { 400: error('Malformed request: `error` says which part (`details.where`: path, query or header) and why.') };
  const writeErrors: Responses = {
    400: error('Invalid body: `details` holds the zod issues.'),
    409: error('Idempotency-Key reused with a different body.'),
    413: error('Body over the limit, or payload over its type’s maxPayloadBytes.'),
    415: error('Body is not JSON: application/json or a +json type (application/vnd.api+json, ...) is expected.'),
  };
  const outsidePolicy = (what: string) => ({ 422: error(what) });
  const idempotencyHeader = z.object({ 'Idempotency-Key': idempotencyKey.optional() });
  const submitHeaders = idempotencyHeader.extend({ Prefer: preferHeader });
  // A submit that waited (Prefer: wait) and saw its job end answers its outcome instead of 202.
  const waited = (result: unknown): Responses => ({
    200: {
      description:
        'Prefer: wait honoured, the job ended in time. Succeeded: its result as GET /jobs/{jobId}/result gives it (JSON as JSON, text with its own content type). Failed or cancelled: the job (`status`, `error`), as GET /jobs/{jobId} gives it.',
      headers: waitedHeaders,
      content: {
        'application/json': {
          schema: z.unknown(),
          examples: { success: { summary: 'The job succeeded: its result', value: result }, failed: { summary: 'The job failed: the job, with its error', value: ex.failedJob } },
        },
        'text/csv': { schema: z.string(), example: 'type,status,count\nnoop,success,42\n' },
      },
    },
    204: { description: 'Prefer: wait honoured; the job succeeded without a result.', headers: waitedHeaders },
    303: {
      description: 'Prefer: wait honoured; the job succeeded with a large result: Location is its short-lived signed S3 URL (as GET /jobs/{jobId}/result).',
      headers: { Location: { schema: { type: 'string', format: 'uri' } }, ...waitedHeaders },
    },
  });
  const acceptedSubmit: Responses[string] = {
    ...accepted(JobAccepted),
    description: 'Accepted: the job is stored and will run. With Prefer: wait, the job did not end within it (no Preference-Applied), or too many requests already wait.',
  };
  // A route's own 429 (a submit over its tenant's quota) says more than the common one.
  const route = (config: RouteConfig) =>
    registry.registerPath({ security, ...config, responses: { ...malformed, ...config.responses, ...common, ...(config.responses[429] ? { 429: config.responses[429] } : {}) } });
  const overQuota: Responses = {
    429: {
      description:
        'Rate limited by the gateway, or over a submit quota of the tenant (PUT /tenants/{tenant}/quota): `details.limit` names it (`maxQueued`: too many jobs waiting; `submitsPerMinute`: too many submits in the last minute) and `details.retryAfterSeconds` (= Retry-After) when to try again. Nothing was stored.',
      headers: { 'Retry-After': { description: 'Seconds until the submit may fit: for submitsPerMinute, until enough of the last minute\'s submits leave the window.', schema: { type: 'integer' as const, minimum: 1 } } },
      content: json(ErrorSchema, { error: 'tenant quota exceeded: the tenant has reached its most waiting jobs (maxQueued); nothing was stored, retry after 2 s', details: { limit: 'maxQueued', retryAfterSeconds: 2 }, requestId: 'b7c1…' }),
    },
  };

  route({
    method: 'post',
    path: '/jobs',
    summary: 'Submit a job',
    description:
      'Answers 202 with the job to follow. `Prefer: wait=N` (up to 30 s) asks to wait for quick jobs: if the job ends within N seconds the answer is its outcome (200 with the result or the failed job, 204, or 303 to a stored result) with `Preference-Applied: wait=N`; otherwise the 202. A repeated Idempotency-Key waits for the job it names.',
    request: { headers: submitHeaders, body: { required: true, content: json(CreateJob, ex.createJob) } },
    responses: {
      ...waited({ sleptMs: 500 }),
      202: acceptedSubmit,
      ...writeErrors,
      ...overQuota,
      422: error(
        'The type is unknown, retired, not submittable through POST /jobs (points.grant), or has no such typeVersion (`details[0].path` is `type` or `typeVersion`); or the priority is not a class (`details[0]`: `{path: ["priority"], message, valid: ["high", "normal", "low"]}`); or the payload fails the registered JSON Schema of the type (`details`: `{path, message, keyword}` per failing place, paths starting at `payload`). Or callbackUrl refused: it holds credentials (user:password@), or its host is a literal private, loopback, link-local, unique-local, CGNAT, multicast, unspecified or metadata address the operator has not allowed. `error` says which. Or runAt outside the window (`details.earliest`, `details.latest`).',
      ),
    },
  });
  route({
    method: 'get',
    path: '/jobs',
    summary: "Search the caller's jobs (every tenant's with scope conveyor:admin)",
    description:
      'Filters combine (AND). 403 when `tenant` names another tenant without scope conveyor:admin. Pages are keyset pages on (createdAt, id): jobs submitted while a client pages never shift, repeat or skip a row of a newest-first walk, and appear at the end of an oldest-first one. Example: `GET /jobs?status=failed&type=email.send&tags=env:prod,customer=42&from=2030-01-01T00:00:00Z&sort=-createdAt&limit=50`.',
    request: { query: searchJobsQuery },
    responses: {
      200: {
        description: 'One page.',
        content: {
          'application/json': {
            schema: jobListReply,
            example: {
              items: [
                {
                  jobId: '0f8fad5b-d9cb-469f-a165-70867728950e',
                  type: 'noop',
                  status: 'failed',
                  attempts: 3,
                  maxAttempts: 3,
                  createdAt: '2030-01-31T09:00:00.000Z',
                  updatedAt: '2030-01-31T09:00:04.000Z',
                  finishedAt: '2030-01-31T09:00:04.000Z',
                  error: 'upstream timed out',
                  tenant: 'demo',
                  tags: ['customer=42', 'env:prod'],
                },
              ],
              nextCursor: 'MjAzMC0wMS0zMVQwOTowMDowMC4wMDAwMDBafDBmOGZhZDViLWQ5Y2ItNDY5Zi1hMTY1LTcwODY3NzI4OTUwZQ',
            },
          },
        },
      },
      400: error('Bad query parameter (`details` holds the issues): an unknown parameter, a bad tag, `to` not after `from`, a cursor this api did not make or made for the other sort.'),
    },
  });
  route({
    method: 'get',
    path: '/jobs/counts',
    summary: "How many of the caller's jobs are in each status (every tenant's with scope conveyor:admin)",
    description:
      'The filters of GET /jobs except `status` (every status is counted) and paging, combined (AND); 403 when `tenant` names another tenant without scope conveyor:admin. Each count stops at `limit` (default and most 10,000): a status with more is listed in `capped`, so the answer stays cheap however many jobs there are. Without `type` and `tags` each count is an index-only read of (tenant, status, createdAt).',
    request: { query: countJobsQuery },
    responses: {
      200: {
        description: 'One count per status.',
        content: json(jobCountsReply, { counts: { scheduled: 3, queued: 12, processing: 4, retrying: 1, success: 10000, failed: 27, cancelled: 2 }, capped: ['success'], limit: 10000 }),
      },
      400: error('Bad query parameter (`details` holds the issues): an unknown parameter (`status`, `cursor`… are not taken), a bad tag, `to` not after `from`, `limit` outside 1..10000.'),
    },
  });
  route({
    method: 'get',
    path: '/jobs/events',
    summary: "Server-Sent Events of all the caller's jobs (every tenant's with scope conveyor:admin), live",
    description:
      'For live views (the console\'s Jobs list): from now on, every lifecycle event of every job the caller may read, as GET /jobs/{jobId}/events frames them; it does not end by itself. `tenant` (scope conveyor:admin) narrows to one tenant. After a dropped connection, Last-Event-ID resumes, replaying at most the 10,000 latest events of all tenants: a client away longer reads the list again.',
    request: { query: jobFeedQuery, headers: z.object({ 'Last-Event-ID': z.string().optional() }) },
    responses: {
      200: {
        description: 'An event stream: one SSE message per lifecycle event, `data` being JSON {jobId, type, data, createdAt}.',
        content: {
          'text/event-stream': {
            schema: z.object({ id: z.string(), event: z.enum(JOB_EVENT_TYPES), data: z.string() }),
            example: `id: 7\nevent: succeeded\ndata: {"jobId":"${ex.jobId}","type":"succeeded","data":{},"createdAt":"2026-12-06T10:00:01.250Z"}\n\n`,
          },
        },
      },
      400: error('invalid Last-Event-ID, or an unknown query parameter'),
    },
  });
  route({
    method: 'get',
    path: '/jobs/{jobId}',
    summary: 'Job status',
    request: { params: jobIdParam },
    responses: {
      200: { description: 'Finished: success (with downloadUrl), failed (with error) or cancelled.', content: json(Job, ex.finishedJob) },
      202: { description: 'Still running; `phase` is the fine state.', headers: retryAfter, content: json(Job, ex.runningJob) },
      404: error('job not found'),
    },
  });
  route({
    method: 'delete',
    path: '/jobs/{jobId}',
    summary: 'Cancel a job',
    description:
      'Idempotent: every call answers with the state the job is left in. A waiting job (scheduled, queued, retrying) is cancelled at once and never runs; a running one is aborted by its worker, told within a second.',
    request: { params: jobIdParam },
    responses: {
      200: { description: 'The job is cancelled: now, or by an earlier request.', content: json(cancelReply, { jobId: ex.jobId, status: 'cancelled' }) },
      202: { description: 'The job is running and its worker is aborting it (`status: running`); ask again, or poll the job, to see it `cancelled`.', content: json(cancelReply, { jobId: ex.jobId, status: 'running', phase: 'processing' }) },
      404: error('job not found'),
      409: error('The job ended otherwise before it could be cancelled: `details.status` is `success` or `failed`.'),
    },
  });
  route({
    method: 'get',
    path: '/jobs/{jobId}/result',
    summary: 'Job result',
    request: { params: jobIdParam },
    responses: {
      200: {
        description: 'The result, inline: JSON as JSON, text with its own content type.',
        content: { 'application/json': { schema: z.unknown(), example: { rows: 3, total: 42 } }, 'text/plain': { schema: z.string() }, 'text/csv': { schema: z.string(), example: 'id,amount\n1,42\n' } },
      },
      204: { description: 'The job succeeded without a result.' },
      303: { description: 'Large result: Location is a short-lived signed S3 URL.', headers: { Location: { schema: { type: 'string', format: 'uri' } } } },
      404: error('job not found'),
      409: error('job not finished, or it failed or was cancelled and has no result (`details.status`).'),
      410: error("the result expired: the job type's resultRetentionSeconds after the job finished, retention dropped it (`details.expiredAt`); the job stays."),
    },
  });
  const itemError = (index: number, status: number, error: string, details?: unknown) => ({ index, status, error, ...(details ? { details } : {}) });
  route({
    method: 'post',
    path: '/jobs/batch',
    summary: `Submit up to ${MAX_BATCH_JOBS} jobs at once, stored together`,
    description:
      `Each item is a POST /jobs body with its own optional \`idempotencyKey\` (the Idempotency-Key header is refused here). Every item is validated first; if any is invalid nothing is stored and the answer is 422 listing them by index. Otherwise all are stored in one statement and the answer has one result per item, in order. The gateway's per-user rate limit counts each job (a batch of 100 spends 100 of the minute's allowance; the per-second burst counts the request once), and the body limit (BODY_LIMIT_BYTES, 1 MiB) applies to the whole batch. Prefer: wait is not honoured here (the answer never waits for the jobs); submit one job with POST /jobs to wait for it. The tenant's submit quota admits the whole batch or none of it (429).`,
    request: {
      body: {
        required: true,
        content: {
          'application/json': {
            schema: batchBodyDocument(),
            example: {
              jobs: [
                { type: 'noop', payload: {}, tags: ['env:prod'], idempotencyKey: 'import-2030-01-31-0001' },
                { type: 'sleep', payload: { ms: 200 }, runAt: '2030-01-31T09:00:00Z', idempotencyKey: 'import-2030-01-31-0002' },
              ],
            },
          },
        },
      },
    },
    responses: {
      202: {
        description: 'Every item accepted (created, or replayed by its idempotencyKey).',
        content: {
          'application/json': {
            schema: batchReply,
            example: { items: [{ index: 0, status: 202, jobId: '0f8fad5b-d9cb-469f-a165-70867728950e', statusUrl: '/jobs/0f8fad5b-d9cb-469f-a165-70867728950e', replayed: false }] },
          },
        },
      },
      207: {
        description: 'Stored, but some items named an idempotencyKey already used with a different request: those are `status: 409` with the job holding the key; the others were accepted.',
        content: {
          'application/json': {
            schema: batchReply,
            example: {
              items: [
                { index: 0, status: 202, jobId: '0f8fad5b-d9cb-469f-a165-70867728950e', statusUrl: '/jobs/0f8fad5b-d9cb-469f-a165-70867728950e', replayed: false },
                { index: 1, status: 409, jobId: '7c9e6679-7425-40de-944b-e07fc1f90ae7', error: 'Idempotency-Key was already used with a different request' },
              ],
            },
          },
        },
      },
      400: error('The body is not `{jobs: [...]}` with at least one item (`details` holds the zod issues), or an Idempotency-Key header was sent.'),
      413: error(`Body over the limit, or more than ${MAX_BATCH_JOBS} jobs (\`details.limit\`).`),
      ...overQuota,
      415: error('Body is not JSON.'),
      422: {
        description: 'Some items are invalid: nothing was stored. `details.items` lists each one by index with the status and error POST /jobs would answer for it (400, 413, 422). Or, from the gateway, more jobs than the user may submit in a minute (`details.jobs`, `details.limitPerMinute`): waiting would never admit it.',
        content: {
          'application/json': {
            schema: errorReply.extend({ details: batchInvalidDetails }),
            example: {
              error: '1 of 2 jobs are invalid; none was stored',
              details: { items: [itemError(1, 400, 'invalid request', [{ code: 'invalid_value', path: ['type'], message: 'Invalid option' }])] },
              requestId: 'req-1',
            },
          },
        },
      },
    },
  });
  route({
    method: 'post',
    path: '/jobs/{jobId}/retry',
    summary: 'Re-run a failed or cancelled job as a new attempt of the same job',
    description:
      'The job becomes `running` (phase `retrying`, due now) with one attempt more than it has used, and runs as any retry does; a `retried` event records who (`data.by`) and when. No body is read. A concurrent second retry finds it running: 409.',
    request: { params: jobIdParam },
    responses: {
      202: {
        ...accepted(retryReply),
        content: {
          'application/json': {
            schema: retryReply,
            example: { jobId: '0f8fad5b-d9cb-469f-a165-70867728950e', statusUrl: '/jobs/0f8fad5b-d9cb-469f-a165-70867728950e', attempt: 4 },
          },
        },
      },
      404: error('job not found'),
      409: {
        description: 'The job is still running or succeeded: only a failed or cancelled job is retried. `details` is its status (and phase).',
        content: {
          'application/json': {
            schema: ErrorSchema,
            example: { error: 'only a failed or cancelled job can be retried; this one is processing', details: { status: 'running', phase: 'processing' }, requestId: 'req-1' },
          },
        },
      },
    },
  });
  route({
    method: 'get',
    path: '/jobs/{jobId}/events',
    summary: "Server-Sent Events of the job's lifecycle until it ends (resumable with Last-Event-ID)",
    request: { params: jobIdParam, headers: z.object({ 'Last-Event-ID': z.string().optional() }) },
    responses: {
      200: {
        description:
          'An event stream: one SSE message per lifecycle event, `data` being JSON {jobId, type, data, createdAt}. It ends after the job\'s latest terminal event (succeeded, failed, cancelled): a job retried or redriven after failing is replayed through all its rounds.',
        content: {
          'text/event-stream': {
            schema: z.object({ id: z.string(), event: z.enum(JOB_EVENT_TYPES), data: z.string() }),
            example: `id: 7\nevent: succeeded\ndata: {"jobId":"${ex.jobId}","type":"succeeded","data":{},"createdAt":"2026-12-06T10:00:01.250Z"}\n\n`,
          },
        },
      },
      400: error('invalid Last-Event-ID'),
      404: error('job not found'),
    },
  });
  route({
    method: 'post',
    path: '/generate-report',
    summary: 'Submit a report.generate job',
    description: 'POST /jobs with the type fixed; `Prefer: wait=N` as there.',
    request: { headers: submitHeaders, body: { required: false, content: json(generateReportBody, { format: 'csv', rows: 100 }) } },
    responses: { ...waited({
      tenant: 'acme', from: '2026-12-05T10:00:00.000Z', to: '2026-12-06T10:00:00.000Z',
      totals: { jobs: 42, succeeded: 40, failed: 2, successRate: 0.952 }, byType: [], byTypeAndStatus: [],
    }), 202: acceptedSubmit, ...writeErrors, ...overQuota },
  });
  route({
    method: 'post',
    path: '/points/reservations',
    summary: 'Reserve points, granted by a points.grant job at executeAt (scope points:grant)',
    request: { headers: idempotencyHeader, body: { required: true, content: json(reservationBody, { userId: 'u-42', amount: 70, runAt: '2026-12-24T18:00:00Z' }) } },
    responses: {
      202: accepted(reservationAcceptedReply, { ...ex.accepted, reservationId: 'c0a8012e-5b1d-4c6f-8a3e-2f9d0b7e6a41' }),
      ...writeErrors,
      ...outsidePolicy('amount above the operator\'s cap per reservation (`details.max`), or executeAt outside the runAt window.'),
    },
  });
  route({
    method: 'get',
    path: '/points/{userId}',
    summary: "A user's points balance in the caller's tenant (0 when none)",
    request: { params: userIdParam },
    responses: { 200: { description: 'The balance.', content: json(balanceReply, { userId: 'u-42', balance: 70 }) }, 400: error('Bad userId.') },
  });
  route({
    method: 'get',
    path: '/notifications/unread',
    summary: "The caller's unread job-completion notices",
    responses: { 200: { description: 'Newest first.', content: json(notificationsReply, { items: [{ id: 'f1e2d3c4-b5a6-4789-8abc-def012345678', jobId: ex.jobId, kind: 'job.succeeded', message: 'Your noop job succeeded.', createdAt: '2026-12-06T10:00:01.300Z' }] }) } },
  });
  route({
    method: 'post',
    path: '/notifications/{id}/read',
    summary: 'Mark a notice read',
    request: { params: notificationIdParam },
    responses: { 204: { description: 'Marked read.' }, 404: error('notification not found') },
  });
  route({
    method: 'get',
    path: '/webhooks/secret',
    summary: "The caller's tenant's webhook signing secret (and, after a rotation, the previous one until it expires)",
    description:
      'Webhooks carry `Conveyor-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`, one `v1` per valid secret. Created on first use. Scope `jobs:write`.',
    responses: { 200: { description: 'The valid secrets (`Cache-Control: no-store`).', content: json(webhookSecretReply, ex.secrets) } },
  });
  route({
    method: 'post',
    path: '/webhooks/secret/rotate',
    summary: "Replace the tenant's webhook signing secret; the replaced one keeps signing for previousValidForSeconds",
    request: { body: { required: false, content: json(rotateSecretBody, { previousValidForSeconds: 3600 }) } },
    responses: {
      200: { description: 'The new current secret and the previous one.', content: json(webhookSecretReply, ex.rotatedSecrets) },
      400: error('Invalid body: `details` holds the zod issues.'),
      415: error('Body is not JSON.'),
    },
  });
  const deliveryExample = {
    deliveryId: '5b1f0c9e-2a7d-4e3b-9c41-8d6e0f2a7b13',
    url: 'https://hooks.example.com/conveyor',
    status: 'delivered',
    attempts: 2,
    nextAttemptAt: null,
    lastStatusCode: 204,
    lastError: null,
    failureReason: null,
    createdAt: '2026-12-06T10:00:01.300Z',
    finishedAt: '2026-12-06T10:00:02.650Z',
    circuit: { state: 'closed', observedBy: 'api-7d9f8c6b5-x2k4q/1' },
    attemptLog: [
      { attempt: 1, startedAt: '2026-12-06T10:00:01.310Z', latencyMs: 42, statusCode: 500, error: 'webhook receiver answered 500', nextAttemptAt: '2026-12-06T10:00:02.600Z' },
      { attempt: 2, startedAt: '2026-12-06T10:00:02.610Z', latencyMs: 38, statusCode: 204, error: null, nextAttemptAt: null },
    ],
  };
  const deliveriesDescription =
    'Visible as the job is (a tenant\'s own, every tenant\'s with scope conveyor:admin); another tenant\'s job or delivery is 404 as a missing one. `circuit` is the breaker of the tenant\'s destination in the api instance that answered (`observedBy`): breakers live in each instance\'s memory.';
  route({
    method: 'get',
    path: '/jobs/{jobId}/deliveries',
    summary: "The job's webhook deliveries: every attempt, status code, latency, next retry, and the destination's circuit breaker",
    description: `One delivery per terminal event of a job with a callbackUrl (a re-run job may have several), oldest first; none for a job without one. ${deliveriesDescription}`,
    request: { params: jobIdParam },
    responses: {
      200: { description: 'Every delivery with its attempts.', content: json(deliveryList, { items: [deliveryExample] }) },
      404: error('job not found'),
    },
  });
  route({
    method: 'post',
    path: '/jobs/{jobId}/deliveries/{deliveryId}/redeliver',
    summary: 'Send a delivered or failed webhook delivery again (scope jobs:write)',
    description: `The delivery becomes pending, due now, with the full retry budget (WEBHOOK_MAX_ATTEMPTS) and age limit again, and is sent by the same durable dispatcher as any delivery: signed anew, with the same body and Conveyor-Event-Id (it is the same event; receivers deduplicate by it). Attempts keep their numbers. No body is read. ${deliveriesDescription}`,
    request: { params: deliveryParams },
    responses: {
      202: {
        description: 'Stored: the delivery as it is right after (usually pending, due now; an attempt may already be in flight).',
        content: json(deliveryView, { ...deliveryExample, status: 'pending', nextAttemptAt: '2026-12-06T11:00:00.000Z', finishedAt: null }),
      },
      404: error('job not found, or delivery not found (of this job)'),
      409: {
        description: 'The delivery is still pending (being sent, or waiting for its next attempt): there is nothing to redeliver yet.',
        content: {
          'application/json': {
            schema: ErrorSchema,
            example: { error: 'the delivery is still pending: it is being sent or waits for its next attempt; redeliver it once it is delivered or failed', requestId: 'req-1' },
          },
        },
      },
    },
  });
  const jobExample = '0f8fad5b-d9cb-469f-a165-70867728950e';
  route({
    method: 'get',
    path: '/dlq',
    summary: 'Dead letters: jobs that ended failed, their last message in their pool\'s DLQ (scope conveyor:admin)',
    description: 'Every tenant\'s, newest death first, filtered by pool, type, tenant, error text and time of death; paged by an opaque cursor.',
    request: { query: listDeadLettersQuery },
    responses: {
      200: {
        description: 'One page.',
        content: {
          'application/json': {
            schema: deadLetterPage,
            example: {
              items: [
                { jobId: jobExample, pool: 'default', type: 'sleep', tenant: 'demo', attempts: 3, maxAttempts: 3, error: 'timed out after 1 s', diedAt: '2030-01-31T09:00:04.000Z', createdAt: '2030-01-31T09:00:00.000Z', tags: ['env:prod'] },
              ],
              nextCursor: null,
            },
          },
        },
      },
      400: error('Bad query parameter (`details` holds the issues): an unknown pool, `to` not after `from`, a cursor this api did not make.'),
    },
  });
  route({
    method: 'post',
    path: '/dlq/redrive',
    summary: 'Requeue dead letters: some by id, those matching a filter, or all (scope conveyor:admin)',
    description: `Each selected job is requeued as POST /jobs/{jobId}/retry requeues one (a \`retried\` event carries who and the redriveId), at most ${MAX_REDRIVE} per request, in one statement; then their old messages are deleted from the DLQs. Killed midway nothing is lost (a message is deleted only after its job was requeued) or run twice (a stale message belongs to a job running again, and no worker reads a DLQ); the next redrive sweeps what is left. A redrive is synchronous and its reply is its only record: when the reply says \`more: true\` or \`sweptAll: false\`, or none came (the api was killed), send the same request again.`,
    request: {
      body: {
        required: true,
        content: { 'application/json': { schema: redriveBody, examples: { some: { value: { jobIds: [jobExample] } }, filter: { value: { filter: { pool: 'default', type: 'sleep', from: '2030-01-31T00:00:00Z' } } }, all: { value: { all: true } } } } },
      },
    },
    responses: {
      200: {
        description: 'Requeued and swept (`sweptAll`), or requeued and partly swept: send it again.',
        content: {
          'application/json': {
            schema: redriveReply,
            examples: {
              done: { value: { redriveId: jobExample, status: 'done', matched: 2, requeued: 2, more: false, deletedMessages: 2, sweptAll: true, createdAt: '2030-01-31T10:00:00.000Z', finishedAt: '2030-01-31T10:00:01.200Z' } },
              sendAgain: {
                summary: 'After a redrive whose api was killed: its jobs were requeued, some of their messages are still hidden',
                value: { redriveId: jobExample, status: 'done', matched: 0, requeued: 0, more: false, deletedMessages: 4980, sweptAll: false, createdAt: '2030-01-31T10:00:00.000Z', finishedAt: '2030-01-31T10:00:03.400Z' },
              },
            },
          },
        },
      },
      400: error('Not one of `{jobIds}`, `{filter}`, `{all: true}` (`details` holds the issues).'),
      415: error('Body is not JSON.'),
    },
  });
  const poolExample = {
    name: 'default',
    jobTypes: ['noop', 'sleep', 'points.grant'],
    paused: false,
    pausedAt: null,
    pausedBy: null,
    pauseReason: null,
    queue: { waiting: 120, inFlight: 16, delayed: 0, deadLetters: 3, waitingByPriority: { high: 4, normal: 110, low: 6 }, waitingOverflow: 90 },
    jobs: { waiting: 136, processing: 16 },
    oldestWaitingSeconds: 4.2,
    throughput: { perSecond1m: 48.5, perSecond5m: 51.2 },
    estimatedDrainSeconds: 3,
    workers: { alive: 1, slots: 16 },
    observedAt: '2030-01-31T09:00:00.000Z',
  };
  const poolsDescription =
    'Postgres counts the jobs (a tenant\'s own, or every tenant\'s with scope conveyor:admin); `queue` is SQS\'s approximate count of the pool\'s queue and DLQ, shown to conveyor:admin only (null otherwise).';
  route({
    method: 'get',
    path: '/pools',
    summary: 'Every worker pool: backlog, in flight, oldest wait, throughput, time to drain, dead letters',
    description: poolsDescription,
    responses: { 200: { description: 'Every pool.', content: { 'application/json': { schema: poolList, example: { pools: [poolExample] } } } } },
  });
  route({
    method: 'get',
    path: '/pools/{name}',
    summary: 'One worker pool',
    description: poolsDescription,
    request: { params: poolNameParam },
    responses: {
      200: { description: 'The pool.', content: { 'application/json': { schema: poolStatus, example: poolExample } } },
      404: error('pool not found'),
    },
  });
  route({
    method: 'get',
    path: '/pools/{name}/history',
    summary: 'A worker pool\'s depth and throughput over the last hour (scope conveyor:admin)',
    description:
      'Read from the Prometheus that scrapes the workers (the api\'s PROMETHEUS_URL; PROMETHEUS_SELECTOR narrows it to this installation): the visible messages of the pool\'s queues and the jobs finished per second, across tenants, at most 120 points.',
    request: { params: poolNameParam, query: historyQuery },
    responses: {
      200: {
        description: 'The window and its points, oldest first.',
        content: json(poolHistory, {
          pool: 'default',
          from: '2030-01-31T08:00:00.000Z',
          to: '2030-01-31T09:00:00.000Z',
          stepSeconds: 30,
          points: [
            { at: '2030-01-31T08:59:30.000Z', waiting: 140, donePerSecond: 47.9 },
            { at: '2030-01-31T09:00:00.000Z', waiting: 120, donePerSecond: 48.5 },
          ],
        }),
      },
      400: error('`minutes` outside 5..360, or an unknown query parameter.'),
      404: error('pool not found'),
      502: error('Prometheus did not answer, or refused the query (the reason is given).'),
      503: error('The api has no Prometheus to read from (PROMETHEUS_URL unset).'),
    },
  });
  const pausedExample = { ...poolExample, paused: true, pausedAt: '2030-01-31T09:00:00.000Z', pausedBy: 'admin@example.com', pauseReason: 'database maintenance', workers: { alive: 1, slots: 0 } };
  const pauseResponses = (example: z.input<typeof poolStatus>) => ({
    200: { description: 'The pool\'s state after the call (the same answer when it already was in that state).', content: { 'application/json': { schema: poolStatus, example } } },
    400: error('Bad body (`details` holds the issues): an unknown field, an empty or too long reason.'),
    404: error('pool not found'),
    415: error('Body is not JSON.'),
  });
  route({
    method: 'post',
    path: '/pools/{name}/pause',
    summary: 'Pause a worker pool: jobs are still accepted and held until it is resumed (scope conveyor:admin)',
    description:
      'Durable (Postgres) and idempotent: pausing a paused pool answers 200 with its state and keeps who paused it and when. Every worker of the pool hears of it at once (and re-reads it every few seconds), stops receiving from the pool\'s queue and hands back messages it received but did not start; jobs already running finish. The claim itself refuses a paused pool\'s jobs, so a worker that has not heard yet holds them too. A waiting job of a paused pool shows `waitingReason: pool_paused`. Who paused, when and why is recorded as an event.',
    request: {
      params: poolNameParam,
      body: { required: false, content: { 'application/json': { schema: pauseBody, examples: { reason: { value: { reason: 'database maintenance' } }, none: { value: {} } } } } },
    },
    responses: pauseResponses(pausedExample),
  });
  route({
    method: 'post',
    path: '/pools/{name}/resume',
    summary: 'Resume a paused worker pool: its held jobs run (scope conveyor:admin)',
    description: 'Idempotent: resuming a running pool answers 200 with its state. The workers start receiving again; the held jobs\' messages are still in the queue and run once each. A reason, if given, goes to the audit event.',
    request: {
      params: poolNameParam,
      body: { required: false, content: { 'application/json': { schema: pauseBody, examples: { reason: { value: { reason: 'maintenance over' } }, none: { value: {} } } } } },
    },
    responses: pauseResponses(poolExample),
  });
  const quotaExample = {
    tenant: 'acme',
    limits: { maxQueued: 10000, maxRunning: 20, submitsPerMinute: 600 },
    usage: { queued: 1240, running: 20, submitsLastMinute: 312 },
    updatedBy: 'user-admin',
    managedBy: null,
    updatedAt: '2030-01-31T09:00:00.000Z',
    observedAt: '2030-01-31T09:05:00.000Z',
  };
  const quotaDescription =
    'Limits are enforced by Postgres in the submit\'s and the claim\'s own statements, so they hold across every api replica and worker and a change applies from the next submit and claim on (design.md, "Quotas and concurrency limits"). `maxQueued` and `submitsPerMinute`: a submit over them is 429 with Retry-After and `details.limit`, and nothing is stored. `maxRunning`: more jobs are not started; they wait with `waitingReason: tenant_concurrency_limit` and start within a few seconds of a slot freeing.';
  route({
    method: 'get',
    path: '/quotas',
    summary: 'Every tenant with a quota: its limits and its usage against them (scope conveyor:admin)',
    description: quotaDescription,
    responses: { 200: { description: 'The tenants with limits, by name.', content: json(quotaList, { tenants: [quotaExample] }) } },
  });
  route({
    method: 'get',
    path: '/tenants/{tenant}/quota',
    summary: 'A tenant\'s limits and its usage against them (scope conveyor:admin)',
    description: `${quotaDescription} A tenant without limits answers them all null, with its usage.`,
    request: { params: tenantParam },
    responses: { 200: { description: 'The limits (null: none) and the usage now.', content: json(tenantQuota, quotaExample) }, 404: error('tenant not found: an empty name or one over 128 characters') },
  });
  route({
    method: 'put',
    path: '/tenants/{tenant}/quota',
    summary: 'Set a tenant\'s limits: max queued, max running, submits per minute (scope conveyor:admin)',
    description: `${quotaDescription} The body replaces the limits: a limit left out or null is no limit, and \`{}\` removes them all. Limits set by a TenantQuota custom resource (\`managedBy\`) belong to it: this answers 409 naming it.`,
    request: { params: tenantParam, body: { required: true, content: json(quotaLimits, { maxQueued: 10000, maxRunning: 20, submitsPerMinute: 600 }) } },
    responses: {
      200: { description: 'The limits now, with the usage.', content: json(tenantQuota, quotaExample) },
      404: error('tenant not found: an empty name or one over 128 characters'),
      409: error('A TenantQuota resource owns this tenant\'s limits (`details.managedBy`, namespace/name): change or delete the resource; nothing was changed.'),
      415: error('Body is not JSON.'),
      422: error('A limit is negative, zero, fractional, not a number, above its bound (maxQueued 100,000, maxRunning 10,000, submitsPerMinute 100,000) or unknown: `error` names it, `details` holds the issues.'),
    },
  });
  route({
    method: 'get',
    path: '/job-types',
    summary: 'The registered job types, each with its latest version (scope jobs:read)',
    responses: { 200: { description: 'Every type, retired ones included, by name.', content: json(jobTypeListReply, { items: [JOB_TYPE] }) } },
  });
  route({
    method: 'get',
    path: '/job-types/{name}',
    summary: 'One job type with every version, oldest first (scope jobs:read)',
    request: { params: jobTypeNameParam },
    responses: { 200: { description: 'The type.', content: json(JobType, { ...JOB_TYPE, versions: [JOB_TYPE_VERSION] }) }, 404: error('job type not found') },
  });
  route({
    method: 'put',
    path: '/job-types/{name}',
    summary: 'Register a job type, or a new version of it (scope conveyor:admin)',
    description:
      'Idempotent: a body equal to the latest version changes nothing (200); a new type, a changed schema, pool or default, or a retired type adds a version (201), which becomes the default of submits at once on every api replica. Jobs keep the version they were validated against. `pool` must be a platform pool or a team pool whose queues exist (its WorkerPool reconciled by the operator, or started by `make start` from the manifest); the type reaches that pool\'s queue without any other change.',
    request: {
      params: jobTypeNameParam,
      body: { required: true, content: { 'application/json': { schema: putJobTypeBody, example: EXAMPLE_JOB_TYPE } } },
    },
    responses: {
      200: { description: 'Unchanged: the body equals the latest version.', content: json(JobType, { ...JOB_TYPE, versions: [JOB_TYPE_VERSION] }) },
      201: { description: 'A version was added.', headers: { Location: { schema: { type: 'string' } } }, content: json(JobType, { ...JOB_TYPE, versions: [JOB_TYPE_VERSION] }) },
      400: error('Invalid body or name: `details` holds the zod issues.'),
      403: error('Missing scope conveyor:admin.'),
      413: error('Body over the limit.'),
      415: error('Body is not JSON.'),
      422: error('The schema is not a valid JSON Schema (draft 2020-12, ajv strict mode): `details.reason` is ajv\'s; or `pool` has no queue (`details` names the field).'),
    },
  });
  route({
    method: 'delete',
    path: '/job-types/{name}',
    summary: 'Retire a job type (scope conveyor:admin)',
    description:
      'New submits of the type are refused (422); jobs already accepted run and keep their version; every version stays readable. Idempotent. PUT revives the type with a new version.',
    request: { params: jobTypeNameParam },
    responses: {
      200: { description: 'The retired type.', content: json(JobType, { ...JOB_TYPE, retiredAt: '2026-12-07T09:00:00.000Z', updatedAt: '2026-12-07T09:00:00.000Z', versions: [JOB_TYPE_VERSION] }) },
      403: error('Missing scope conveyor:admin.'),
      404: error('job type not found'),
      409: error('A built-in type cannot be retired.'),
    },
  });
  registerScheduleOperations({ route, json, error });
  registerFlowOperations({ route, json, error, overQuota, errorSchema: ErrorSchema });
  registerPauseOperations({ route, json, error });
  registry.registerPath({
    method: 'get',
    path: '/openapi.json',
    summary: 'This document',
    security: [],
    responses: { 200: { description: 'OpenAPI 3.1 document.', content: { 'application/json': { schema: z.object({}).catchall(z.unknown()) } } } },
  });

  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Conveyor API',
      version: '1.0.0',
      description: 'Asynchronous jobs: submit, poll, fetch results, cancel. Errors are `{error, details?, requestId}`.',
    },
    servers: [{ url: '/' }],
  }) as unknown as Record<string, unknown>;
}

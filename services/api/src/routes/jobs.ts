import type { Request, RequestHandler } from 'express';
import { cancelJob, CANCEL_CHANNEL, countAhead, findJob, findResult, priorityCode, readPoolControl, holdOf, type NewJob, type OutboxSignal, type Phase } from '@conveyor/jobs';
import type { Logger, Pool } from '@conveyor/platform';
import { HttpError, requestIdOf } from '../http-errors.js';
import { identityOf, readTenant } from '../identity.js';
import { resultReply, toJobView, waitingReason, type JobView } from '../job-view.js';
import type { JobInserter } from '../job-inserter.js';
import type { PoolStatsCache } from '../pool-stats.js';
import { parseIdOr404, parseOr400, traceOf } from '../request.js';
import { estimateRetryAfter } from '../retry-after.js';
import { checkRunAt, type RunAtWindow } from '../run-at.js';
import { priorityOr422 } from '../priority.js';
import { createJobEnvelope, idempotencyKey, jobIdParam, normalizeTags } from '../schemas.js';
import { acceptedRetryAfter, sendAccepted } from './accepted.js';
import { limitKeysOf, quotaRefusal } from '../quotas/submit.js';
import { sendResult } from './result.js';
import { answerOnceEnded } from '../wait/reply.js';
import { parsePreferWait } from '../wait/prefer.js';
import type { JobWaiter } from '../wait/job-waiter.js';
import type { SubmittedCounter } from '../metrics.js';
import type { RouteDef } from './route.js';
import { assertCallbackUrlAllowed, type TargetPolicy } from '../webhooks/index.js';
import { resolveType, validPayload, type JobTypeRegistry } from '../job-types/index.js';

export interface JobRoutesDeps {
  pool: Pool;
  /** Where new jobs are stored: concurrent submissions share an INSERT. */
  inserter: JobInserter;
  outbox: OutboxSignal;
  stats: PoolStatsCache;
  signResultUrl: (key: string) => Promise<string>;
  jsonBody: RequestHandler;
  now: () => Date;
  runAtWindow: RunAtWindow;
  submitted?: SubmittedCounter;
  webhookPolicy: TargetPolicy;
  jobTypes: JobTypeRegistry;
  /** Holds a submit with `Prefer: wait=N` until its job ends; without one the preference is ignored. */
  waiter?: JobWaiter;
  logger?: Logger;
}

export function idempotencyKeyOf(req: Request): string | undefined {
  const header = req.headers['idempotency-key'];
  return header === undefined ? undefined : parseOr400(idempotencyKey, header, ['Idempotency-Key']);
}

/** What every single-job submit needs: POST /jobs and POST /generate-report. */
export type AcceptDeps = Pick<JobRoutesDeps, 'pool' | 'inserter' | 'stats' | 'now' | 'submitted' | 'jobTypes' | 'waiter' | 'signResultUrl' | 'logger'>;

/**
 * Validates, stores and answers 202; the caller supplies the type's already-validated payload.
 * With `Prefer: wait=N` it first waits up to N seconds for the job (a replayed Idempotency-Key
 * waits for the job it names) and answers its outcome if it ended (wait/reply.ts).
 */
export async function acceptJob(
  deps: AcceptDeps,
  req: Request,
  res: Parameters<RequestHandler>[1],
  job: Omit<NewJob, 'tenant' | 'owner' | 'traceparent' | 'traceId' | 'requestId' | 'idempotencyKey'>,
): Promise<void> {
  const identity = identityOf(res);
  // Routes with a fixed built-in type (reports, reservations) validate with its zod schema: the job
  // records the type's latest registered version and pool, as a POST /jobs without typeVersion would.
  const latest = job.typeVersion === undefined ? deps.jobTypes.latestOf(job.type) : undefined;
  const outcome = await deps.inserter.create({
    typeVersion: latest?.version,
    pool: latest?.pool,
    ...job,
    tenant: identity.tenant,
    owner: identity.subject,
    idempotencyKey: idempotencyKeyOf(req),
    ...traceOf(req, requestIdOf(res)),
  });
  if (outcome.kind === 'conflict') {
    throw new HttpError(409, 'Idempotency-Key was already used with a different request');
  }
  if (outcome.kind === 'refused') {
    deps.submitted?.inc({ type: job.type, outcome: outcome.kind });
    throw quotaRefusal(outcome);
  }
  deps.submitted?.inc({ type: job.type, outcome: outcome.kind });
  // The answer depends on Prefer, whichever it is: caches must not serve one for the other.
  res.vary('Prefer');
  const wait = parsePreferWait(req.headers.prefer);
  if (wait !== undefined && (await answerOnceEnded(deps, res, outcome.jobId, identity.tenant, wait))) return;
  sendAccepted(res, outcome.jobId, acceptedRetryAfter(deps.stats, deps.jobTypes.poolOf(job.type), outcome.status, job.runAt, deps.now()));
}

/** A per-type byte limit, checked before the payload schema so a huge payload costs no parsing of it. */
export function checkPayloadSize(type: string, payload: unknown, maxPayloadBytes: number): void {
  const bytes = Buffer.byteLength(JSON.stringify(payload ?? {}));
  if (bytes > maxPayloadBytes) {
    throw new HttpError(413, `payload of ${type} is larger than ${maxPayloadBytes} bytes`, { bytes, maxPayloadBytes });
  }
}

/** What POST /jobs stores, from its body: validated, or an HttpError (400, 413, 422) saying why. */
export type Submission = Parameters<typeof acceptJob>[3];

/**
 * Validates one job as POST /jobs takes it, against its registered type (the latest version unless
 * the body names one); POST /jobs/batch runs it on every item.
 */
export function parseSubmission(input: unknown, deps: Pick<JobRoutesDeps, 'now' | 'runAtWindow' | 'webhookPolicy' | 'jobTypes'>): Submission {
  const body = parseOr400(createJobEnvelope, input ?? {});
  const resolved = resolveType(deps.jobTypes, body.type, body.typeVersion);
  const { type } = resolved;
  checkPayloadSize(body.type, body.payload, type.maxPayloadBytes);
  const payload = validPayload(resolved, body.payload);
  assertCallbackUrlAllowed(body.callbackUrl, deps.webhookPolicy);
  const runAt = body.runAt ? new Date(body.runAt) : undefined;
  if (runAt) checkRunAt('runAt', runAt, deps.now(), deps.runAtWindow);
  return {
    type: body.type,
    typeVersion: type.version,
    pool: type.pool,
    payload,
    runAt,
    priority: body.priority === undefined ? undefined : priorityCode(priorityOr422(body.priority)),
    maxAttempts: body.maxAttempts,
    timeoutSeconds: body.timeoutSeconds,
    defaults: {
      priority: priorityCode(type.priority),
      maxAttempts: type.maxAttempts,
      timeoutSeconds: type.timeoutSeconds,
      resultRetentionSeconds: type.resultRetentionSeconds,
    },
    callbackUrl: body.callbackUrl,
    tags: normalizeTags(body.tags),
    ...limitKeysOf(body),
  };
}

export function jobRoutes(deps: JobRoutesDeps): RouteDef[] {
  const create: RequestHandler = async (req, res) => {
    await acceptJob(deps, req, res, parseSubmission(req.body, deps));
  };

  const show: RequestHandler = async (req, res) => {
    const { jobId } = parseIdOr404(jobIdParam, req.params, 'job');
    const row = await findJob(deps.pool, jobId, readTenant(identityOf(res)));
    if (!row) throw new HttpError(404, 'job not found');
    // The payload is shown by this one-job read only: lists and wait replies stay light.
    const view: JobView = { ...toJobView(row), payload: row.payload };
    if (view.status !== 'running') {
      res.status(200).json(view);
      return;
    }
    const phase = row.status as Phase;
    // The registry knows team pools too (a type's pool is its latest version's).
    const pool = deps.jobTypes.poolOf(row.type);
    if (phase !== 'processing') {
      const [paused, limit] = await Promise.all([
        pool ? readPoolControl(deps.pool, pool.name).then((c) => c.paused) : false,
        phase === 'queued' || phase === 'retrying' ? holdOf(deps.pool, jobId) : null,
      ]);
      view.waitingReason = waitingReason(phase, row.runAt, deps.now(), paused, limit);
    }
    const stats = pool ? await deps.stats.get(pool.name, pool.jobTypes) : undefined;
    const ahead = pool && (phase === 'queued' || phase === 'retrying') ? await countAhead(deps.pool, pool.jobTypes, row.createdAt) : 0;
    const retryAfter = estimateRetryAfter({
      phase,
      ahead,
      completedPerSecond: stats?.completedPerSecond ?? 0,
      meanRunSeconds: stats?.meanRunSeconds ?? null,
      progress: row.progress,
      secondsUntilRun: row.runAt ? (row.runAt.getTime() - deps.now().getTime()) / 1000 : null,
    });
    res.set('Retry-After', String(retryAfter)).status(202).json(view);
  };

  const result: RequestHandler = async (req, res) => {
    const { jobId } = parseIdOr404(jobIdParam, req.params, 'job');
    const row = await findResult(deps.pool, jobId, readTenant(identityOf(res)));
    if (!row) throw new HttpError(404, 'job not found');
    await sendResult(res, resultReply(row), deps.signResultUrl);
  };

  /**
   * Answers with the state the job is left in, however often it is asked: 200 once it is cancelled
   * (by this request or an earlier one), 202 while its worker is aborting it, 409 when it ended
   * otherwise first.
   */
  const cancel: RequestHandler = async (req, res) => {
    const { jobId } = parseIdOr404(jobIdParam, req.params, 'job');
    const outcome = await cancelJob(deps.outbox.track(deps.pool), jobId, readTenant(identityOf(res)));
    switch (outcome.kind) {
      case 'not-found':
        throw new HttpError(404, 'job not found');
      case 'finished':
        if (outcome.status === 'cancelled') {
          res.status(200).json({ jobId, status: 'cancelled' });
          return;
        }
        throw new HttpError(409, `job already finished: ${outcome.status}`, { status: outcome.status });
      case 'cancelled':
        res.status(200).json({ jobId, status: 'cancelled' });
        return;
      case 'abort-requested':
        // After the commit, so the worker that reads the flag finds it set; its heartbeat is the fallback.
        await deps.outbox.notify(CANCEL_CHANNEL, jobId);
        res.status(202).json({ jobId, status: 'running', phase: 'processing' });
        return;
    }
  };

  return [
    { method: 'post', path: '/jobs', handlers: [deps.jsonBody, create] },
    { method: 'get', path: '/jobs/:jobId', handlers: [show] },
    { method: 'delete', path: '/jobs/:jobId', handlers: [cancel] },
    { method: 'get', path: '/jobs/:jobId/result', handlers: [result] },
  ];
}

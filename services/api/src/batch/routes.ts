/** POST /jobs/batch: up to MAX_BATCH_JOBS jobs stored in one statement, one result per item. */
import type { RequestHandler } from 'express';
import type { NewJob } from '@conveyor/jobs';
import { HttpError, requestIdOf } from '../http-errors.js';
import { identityOf } from '../identity.js';
import { parseOr400, traceOf } from '../request.js';
import { jobPath } from '../job-view.js';
import type { RouteDef } from '../routes/route.js';
import { parseSubmission, type JobRoutesDeps } from '../routes/jobs.js';
import { idempotencyKey } from '../schemas.js';
import { MAX_BATCH_JOBS, batchBody } from './schemas.js';
import { quotaRefusal } from '../quotas/submit.js';

interface ItemError {
  index: number;
  status: number;
  error: string;
  details?: unknown;
}

/** One item as POST /jobs would take it, its Idempotency-Key a field of its own; or why not. */
function parseItem(item: unknown, index: number, deps: Pick<JobRoutesDeps, 'now' | 'runAtWindow' | 'webhookPolicy' | 'jobTypes'>) {
  try {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) return { submission: parseSubmission(item, deps) };
    const { idempotencyKey: key, ...body } = item as Record<string, unknown>;
    return { submission: parseSubmission(body, deps), key: key === undefined ? undefined : parseOr400(idempotencyKey, key, ['idempotencyKey']) };
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    const refused: ItemError = { index, status: error.status, error: error.message, ...(error.details === undefined ? {} : { details: error.details }) };
    return { error: refused };
  }
}

export function batchRoutes(deps: Pick<JobRoutesDeps, 'inserter' | 'jsonBody' | 'now' | 'runAtWindow' | 'webhookPolicy' | 'submitted' | 'jobTypes'>): RouteDef[] {
  const submit: RequestHandler = async (req, res) => {
    if (req.headers['idempotency-key'] !== undefined) {
      throw new HttpError(400, 'a batch takes an idempotencyKey on each item, not an Idempotency-Key header');
    }
    const body = parseOr400(batchBody, req.body ?? {});
    if (body.jobs.length > MAX_BATCH_JOBS) {
      throw new HttpError(413, `a batch holds at most ${MAX_BATCH_JOBS} jobs; this one has ${body.jobs.length}`, { limit: MAX_BATCH_JOBS });
    }
    const parsed = body.jobs.map((item, index) => parseItem(item, index, deps));
    const invalid = parsed.flatMap((p) => (p.error ? [p.error] : []));
    if (invalid.length > 0) {
      // All or nothing: a client fixing one item resends the batch, and nothing was stored twice.
      throw new HttpError(422, `${invalid.length} of ${body.jobs.length} jobs are invalid; none was stored`, { items: invalid });
    }
    const identity = identityOf(res);
    const trace = traceOf(req, requestIdOf(res));
    const jobs: NewJob[] = parsed.map((p) => ({ ...p.submission!, tenant: identity.tenant, owner: identity.subject, idempotencyKey: p.key, ...trace }));
    const outcomes = await deps.inserter.createAll(jobs);
    // The tenant's submit quota takes the whole batch or none of it: refused, nothing was stored.
    const refused = outcomes.find((outcome) => outcome.kind === 'refused');
    if (refused) {
      for (const job of jobs) deps.submitted?.inc({ type: job.type, outcome: 'refused' });
      throw quotaRefusal(refused);
    }
    const items = outcomes.map((outcome, index) => {
      deps.submitted?.inc({ type: jobs[index]!.type, outcome: outcome.kind });
      if (outcome.kind === 'refused') throw new Error('a refused job in an admitted batch');
      if (outcome.kind === 'conflict') {
        return { index, status: 409, error: 'idempotencyKey was already used with a different request', jobId: outcome.jobId };
      }
      return { index, status: 202, jobId: outcome.jobId, statusUrl: jobPath(outcome.jobId), replayed: outcome.kind === 'replayed' };
    });
    res.status(items.some((item) => item.status !== 202) ? 207 : 202).json({ items });
  };
  return [{ method: 'post', path: '/jobs/batch', handlers: [deps.jsonBody, submit] }];
}

/** POST /flows, GET /flows/{id}, POST /flows/{id}/cancel (docs/design.md, "Flows and sagas"). */
import type { RequestHandler } from 'express';
import { cancelFlow, cancelJob, CANCEL_CHANNEL, createFlow, findFlow, type FlowJobSpec, type FlowRow, type NewFlowStep } from '@conveyor/jobs';
import { HttpError, requestIdOf } from '../http-errors.js';
import { identityOf, readTenant } from '../identity.js';
import { parseIdOr404, parseOr400, traceOf } from '../request.js';
import type { RouteDef } from '../routes/route.js';
import { idempotencyKeyOf, parseSubmission, type JobRoutesDeps, type Submission } from '../routes/jobs.js';
import { quotaRefusal } from '../quotas/submit.js';
import { graphIssues, type GraphIssue } from './graph.js';
import { compensateBody, flowBody, flowIdParam, MAX_FLOW_PAYLOAD_BYTES, MAX_FLOW_STEPS, stepLinks } from './schemas.js';

export type FlowRoutesDeps = Pick<JobRoutesDeps, 'pool' | 'outbox' | 'jsonBody' | 'now' | 'runAtWindow' | 'webhookPolicy' | 'jobTypes' | 'submitted'>;

export const flowPath = (flowId: string) => `/flows/${flowId}`;

/** The job a flow stores for a step: the submission with the type's defaults filled in. */
function jobSpec(s: Submission): FlowJobSpec {
  return {
    type: s.type,
    payload: s.payload,
    typeVersion: s.typeVersion,
    pool: s.pool,
    priority: s.priority ?? s.defaults?.priority ?? 0,
    maxAttempts: s.maxAttempts ?? s.defaults?.maxAttempts ?? 3,
    timeoutSeconds: s.timeoutSeconds ?? s.defaults?.timeoutSeconds ?? 300,
    resultRetentionSeconds: s.defaults?.resultRetentionSeconds ?? null,
    callbackUrl: s.callbackUrl,
    tags: s.tags,
    concurrencyKey: s.concurrencyKey,
    concurrencyLimit: s.concurrencyLimit,
    rateLimitKey: s.rateLimitKey,
    rateLimitPerSecond: s.rateLimitPerSecond,
  };
}

/** An HttpError from the single-job checks, as issues under `prefix` (a step's path in the flow). */
function issuesOf(error: unknown, prefix: (string | number)[]): GraphIssue[] {
  if (!(error instanceof HttpError)) throw error;
  const details = Array.isArray(error.details) ? (error.details as Array<{ path?: (string | number)[]; message?: string }>) : [];
  if (details.length === 0) return [{ path: prefix, message: error.message }];
  return details.map((d) => ({ path: [...prefix, ...(d.path ?? [])], message: d.message ?? error.message }));
}

/** Every step validated as POST /jobs validates a job, then the graph: the steps to store, or every problem by path. */
export function parseFlowSteps(steps: readonly unknown[], saga: boolean, deps: Pick<JobRoutesDeps, 'now' | 'runAtWindow' | 'webhookPolicy' | 'jobTypes'>): { steps: NewFlowStep[]; issues: GraphIssue[] } {
  if (steps.length > MAX_FLOW_STEPS) {
    return { steps: [], issues: [{ path: ['steps'], message: `a flow has at most ${MAX_FLOW_STEPS} steps; this one has ${steps.length}` }] };
  }
  const issues: GraphIssue[] = [];
  const parsed: NewFlowStep[] = [];
  let bytes = 0;
  steps.forEach((step, i) => {
    const at = ['steps', i];
    const links = stepLinks.safeParse(step);
    if (!links.success) {
      issues.push(...links.error.issues.map((issue) => ({ path: [...at, ...(issue.path as (string | number)[])], message: issue.message })));
      return;
    }
    const { name, dependsOn, compensate, ...job } = links.data;
    if ('runAt' in job) issues.push({ path: [...at, 'runAt'], message: 'a flow step starts when its dependencies succeed; runAt is not taken' });
    let spec: FlowJobSpec | undefined;
    let undo: FlowJobSpec | undefined;
    try {
      spec = jobSpec(parseSubmission(job, deps));
      bytes += Buffer.byteLength(JSON.stringify(spec.payload ?? {}));
    } catch (error) {
      issues.push(...issuesOf(error, at));
    }
    if (compensate !== undefined) {
      if (!saga) issues.push({ path: [...at, 'compensate'], message: 'compensate is taken only in a saga (saga: true)' });
      try {
        undo = jobSpec(parseSubmission(parseOr400(compensateBody, compensate), deps));
        bytes += Buffer.byteLength(JSON.stringify(undo.payload ?? {}));
      } catch (error) {
        issues.push(...issuesOf(error, [...at, 'compensate']));
      }
    }
    parsed.push({ name, dependsOn, job: spec!, ...(undo ? { compensate: undo } : {}) });
  });
  if (bytes > MAX_FLOW_PAYLOAD_BYTES) issues.push({ path: ['steps'], message: `the payloads of a flow total at most ${MAX_FLOW_PAYLOAD_BYTES} bytes; these are ${bytes}` });
  // The graph is checked on the steps whose name and dependsOn parsed, so a bad step hides no cycle.
  if (parsed.length === steps.length) issues.push(...graphIssues(parsed));
  return { steps: parsed, issues };
}

function toFlowView(flow: FlowRow) {
  const succeeded = new Set(flow.steps.filter((s) => s.status === 'success').map((s) => s.name));
  return {
    flowId: flow.id,
    name: flow.name,
    saga: flow.saga,
    status: flow.status,
    error: flow.error,
    createdAt: flow.createdAt.toISOString(),
    finishedAt: flow.finishedAt?.toISOString() ?? null,
    steps: flow.steps.map((s) => ({
      name: s.name,
      dependsOn: s.dependsOn,
      status: s.status,
      type: s.type,
      jobId: s.jobId,
      phase: s.status === 'running' ? s.jobStatus : null,
      attempts: s.attempts ?? 0,
      startedAt: s.startedAt?.toISOString() ?? null,
      finishedAt: s.finishedAt?.toISOString() ?? null,
      error: s.error,
      ...(s.status === 'waiting' ? { waitingReason: 'waiting_for_dependencies' as const, waitingFor: s.dependsOn.filter((d) => !succeeded.has(d)) } : {}),
      compensation: s.compensation,
    })),
  };
}

export function flowRoutes(deps: FlowRoutesDeps): RouteDef[] {
  const submit: RequestHandler = async (req, res) => {
    const body = parseOr400(flowBody, req.body ?? {});
    const { steps, issues } = parseFlowSteps(body.steps, body.saga, deps);
    if (issues.length > 0) {
      throw new HttpError(422, `invalid flow, nothing was stored: ${issues.slice(0, 3).map((i) => i.message).join('; ')}${issues.length > 3 ? `; and ${issues.length - 3} more` : ''}`, issues);
    }
    const identity = identityOf(res);
    const outcome = await createFlow(
      deps.pool,
      { tenant: identity.tenant, owner: identity.subject, name: body.name, saga: body.saga, steps, idempotencyKey: idempotencyKeyOf(req), ...traceOf(req, requestIdOf(res)) },
      (db) => deps.outbox.track(db),
    );
    if (outcome.kind === 'refused') throw quotaRefusal(outcome);
    if (outcome.kind === 'conflict') throw new HttpError(409, 'Idempotency-Key was already used with a different request', { flowId: outcome.flowId });
    for (const step of steps) deps.submitted?.inc({ type: step.job.type, outcome: outcome.kind });
    const enqueued = outcome.kind === 'created' ? outcome.enqueued : 0;
    res
      .set('Location', flowPath(outcome.flowId))
      .status(202)
      .json({ flowId: outcome.flowId, statusUrl: flowPath(outcome.flowId), enqueued, replayed: outcome.kind === 'replayed' });
  };

  const show: RequestHandler = async (req, res) => {
    const { flowId } = parseIdOr404(flowIdParam, req.params, 'flow');
    const flow = await findFlow(deps.pool, flowId, readTenant(identityOf(res)));
    if (!flow) throw new HttpError(404, 'flow not found');
    res.status(200).json(toFlowView(flow));
  };

  /** Idempotent: 200 once the flow is cancelled (by this request or an earlier one), 409 when it ended otherwise first. */
  const cancel: RequestHandler = async (req, res) => {
    const { flowId } = parseIdOr404(flowIdParam, req.params, 'flow');
    const tenant = readTenant(identityOf(res));
    const outcome = await cancelFlow(deps.pool, flowId, tenant);
    if (outcome.kind === 'not-found') throw new HttpError(404, 'flow not found');
    if (outcome.status !== 'cancelled') throw new HttpError(409, `flow already finished: ${outcome.status}`, { status: outcome.status });
    // Each running step through the jobs' own cancel path: a waiting job ends at once, a processing one is aborted by its worker.
    const cancelled: string[] = [];
    for (const jobId of outcome.runningJobs) {
      const job = await cancelJob(deps.outbox.track(deps.pool), jobId, tenant);
      if (job.kind === 'abort-requested') await deps.outbox.notify(CANCEL_CHANNEL, jobId);
      if (job.kind === 'abort-requested' || job.kind === 'cancelled') cancelled.push(jobId);
    }
    res.status(200).json({ flowId, status: 'cancelled', cancelledJobs: cancelled });
  };

  return [
    { method: 'post', path: '/flows', handlers: [deps.jsonBody, submit] },
    { method: 'get', path: '/flows/:flowId', handlers: [show] },
    { method: 'post', path: '/flows/:flowId/cancel', handlers: [cancel] },
  ];
}

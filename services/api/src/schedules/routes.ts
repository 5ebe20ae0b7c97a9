/**
 * /schedules: list, read, create, update, delete, pause, resume and trigger-now JobSchedules.
 * Reads need jobs:read and see the caller's tenant (conveyor:admin: every tenant); writes need
 * jobs:write and act on the caller's own schedules (conveyor:admin: any tenant's, with ?tenant=).
 * Every answer carries the next fire times and the last runs (the jobs the schedule created).
 */
import type { Request, RequestHandler, Response } from 'express';
import { createJob, publicStatus, type JobStatus, type OutboxSignal } from '@conveyor/jobs';
import { fireKeyPrefix, jobScheduleSpec, triggerIdempotencyKey, validateSpec, type JobScheduleSpec } from '@conveyor/jobs/schedules';
import type { Pool } from '@conveyor/platform';
import { HttpError } from '../http-errors.js';
import { identityOf, type Identity } from '../identity.js';
import { resolveType, validPayload } from '../job-types/submit.js';
import type { JobTypeRegistry } from '../job-types/registry.js';
import type { PoolStatsCache } from '../pool-stats.js';
import { parseIdOr404, parseOr400 } from '../request.js';
import { acceptedRetryAfter, sendAccepted } from '../routes/accepted.js';
import type { RouteDef } from '../routes/route.js';
import { scheduleRuns, type RunRow } from './queries.js';
import { createScheduleBody, LAST_RUNS, NEXT_FIRE_TIMES, scheduleNameParam, scheduleTenantQuery, updateScheduleBody } from './schemas.js';
import type { ScheduleStore, StoredSchedule } from './store.js';

export interface ScheduleRoutesDeps {
  pool: Pool;
  outbox: OutboxSignal;
  store: ScheduleStore;
  jobTypes: JobTypeRegistry;
  stats: PoolStatsCache;
  jsonBody: RequestHandler;
  now: () => Date;
}

const ADMIN = 'conveyor:admin';
const notFound = () => new HttpError(404, 'schedule not found');

/**
 * The tenant a request acts for: the caller's, or with conveyor:admin the one `?tenant=` names.
 * Without it, another tenant's schedule does not exist (404, as its jobs do not); on the collection
 * (list, create) naming another tenant is refused (403), which reveals nothing about its schedules.
 */
function tenantOf(req: Request, identity: Identity, on: 'item' | 'collection' = 'item'): string {
  const { tenant } = parseOr400(scheduleTenantQuery, req.query, ['query']);
  if (tenant === undefined || tenant === identity.tenant) return identity.tenant;
  if (identity.scopes.has(ADMIN)) return tenant;
  throw on === 'item' ? notFound() : new HttpError(403, `scope ${ADMIN} required to act for another tenant`);
}

/**
 * The spec the stores keep, checked as a submit is (registered type, payload schema: 422 naming the
 * field) and then as the scheduler will (cron, time zone, a type it fires: 422 with the reason).
 */
function checkedSpec(registry: JobTypeRegistry, spec: JobScheduleSpec): Record<string, unknown> {
  const payload = validPayload(resolveType(registry, spec.jobType, undefined), spec.payload ?? {});
  const checked = validateSpec({ ...spec, payload });
  if (!checked.ok) {
    const field = checked.message.startsWith('spec.schedule') ? 'schedule' : checked.message.startsWith('spec.jobType') ? 'jobType' : 'payload';
    throw new HttpError(422, checked.message.replace(/^spec\./, ''), [{ path: [field], message: checked.message }]);
  }
  // Croner accepts a date that never comes (31 February): refused, or the schedule would sit silent.
  if (!checked.cron.nextRun()) throw new HttpError(422, `schedule: "${spec.schedule}" never fires`, [{ path: ['schedule'], message: 'no fire time in the future' }]);
  return normalForm(checked.spec);
}

/** Absent, not null, in a stored spec (the custom resource's schema has no nulls), in one key order. */
function normalForm(spec: JobScheduleSpec): Record<string, unknown> {
  const { timeZone, startingDeadlineSeconds, ...rest } = spec;
  return { ...rest, ...(timeZone ? { timeZone } : {}), ...(startingDeadlineSeconds !== undefined ? { startingDeadlineSeconds } : {}) };
}

function runView(row: RunRow, uid: string) {
  const suffix = row.idempotency_key.slice(fireKeyPrefix(uid).length);
  const manual = suffix.startsWith('now:');
  const pub = publicStatus(row.status as JobStatus);
  return {
    jobId: row.id,
    status: pub.status,
    phase: 'phase' in pub ? pub.phase : null,
    trigger: manual ? ('manual' as const) : ('schedule' as const),
    fireTime: manual ? null : new Date(suffix).toISOString(),
    createdAt: row.created_at.toISOString(),
    finishedAt: row.finished_at?.toISOString() ?? null,
  };
}

export function scheduleRoutes(deps: ScheduleRoutesDeps): RouteDef[] {
  const { store } = deps;

  const view = async (s: StoredSchedule) => {
    const checked = validateSpec(s.spec);
    // A resource written with kubectl may be invalid: shown as stored, with no fire times.
    const spec = checked.ok ? checked.spec : (jobScheduleSpec.partial().safeParse(s.spec).data ?? {});
    const next = checked.ok && !checked.spec.suspend ? checked.cron.nextRuns(NEXT_FIRE_TIMES, deps.now()) : [];
    const ready = s.status?.conditions?.find((c) => c.type === 'Ready');
    const runs = await scheduleRuns(deps.pool, s.tenant, s.uid, LAST_RUNS);
    return {
      name: s.name,
      tenant: s.tenant,
      schedule: spec.schedule ?? '',
      timeZone: spec.timeZone ?? null,
      jobType: spec.jobType ?? '',
      payload: spec.payload ?? {},
      suspend: spec.suspend ?? false,
      concurrencyPolicy: spec.concurrencyPolicy ?? 'Allow',
      startingDeadlineSeconds: spec.startingDeadlineSeconds ?? null,
      createdAt: s.createdAt?.toISOString() ?? null,
      nextFireTimes: next.map((d) => d.toISOString()),
      lastRuns: runs.map((r) => runView(r, s.uid)),
      scheduler: ready
        ? { lastScheduleTime: s.status?.lastScheduleTime ?? null, ready: ready.status === 'True', reason: ready.reason, message: ready.message }
        : null,
    };
  };

  const target = async (req: Request, res: Response) => {
    const { name } = parseIdOr404(scheduleNameParam, req.params, 'schedule');
    const tenant = tenantOf(req, identityOf(res));
    const found = await store.get(tenant, name);
    if (!found) throw notFound();
    return found;
  };

  const list: RequestHandler = async (req, res) => {
    const identity = identityOf(res);
    const named = parseOr400(scheduleTenantQuery, req.query, ['query']).tenant !== undefined;
    const tenant = tenantOf(req, identity, 'collection');
    // An admin without ?tenant= sees every tenant's.
    const all = await store.list(!named && identity.scopes.has(ADMIN) ? null : tenant);
    res.status(200).json({ items: await Promise.all(all.map(view)) });
  };

  const show: RequestHandler = async (req, res) => {
    res.status(200).json(await view(await target(req, res)));
  };

  const create: RequestHandler = async (req, res) => {
    const identity = identityOf(res);
    const tenant = tenantOf(req, identity, 'collection');
    const { name, ...fields } = parseOr400(createScheduleBody, req.body ?? {});
    const spec = checkedSpec(deps.jobTypes, { payload: {}, suspend: false, concurrencyPolicy: 'Allow', ...fields, timeZone: fields.timeZone ?? undefined, startingDeadlineSeconds: fields.startingDeadlineSeconds ?? undefined });
    const created = await store.create(tenant, name, spec, identity.subject);
    res.set('Location', `/schedules/${name}`).status(201).json(await view(created));
  };

  /**
   * Applies the fields given to the stored spec (null removes an optional one, absent keeps it); an
   * unchanged spec writes nothing (pausing twice is one pause).
   */
  const change = async (req: Request, res: Response, fields: Record<string, unknown>) => {
    const current = await target(req, res);
    const merged: Record<string, unknown> = { ...current.spec };
    for (const [key, value] of Object.entries(fields)) {
      if (value === null) delete merged[key];
      else if (value !== undefined) merged[key] = value;
    }
    const spec = checkedSpec(deps.jobTypes, merged as JobScheduleSpec);
    if (JSON.stringify(spec) === JSON.stringify(storedForm(current.spec))) return res.status(200).json(await view(current));
    const updated = await store.update(current, spec);
    if (!updated) throw notFound();
    res.status(200).json(await view(updated));
  };

  const update: RequestHandler = async (req, res) => {
    await change(req, res, parseOr400(updateScheduleBody, req.body ?? {}));
  };

  const suspend = (value: boolean): RequestHandler => async (req, res) => {
    parseOr400(updateScheduleBody.pick({}), req.body ?? {});
    await change(req, res, { suspend: value });
  };

  const remove: RequestHandler = async (req, res) => {
    const { name } = parseIdOr404(scheduleNameParam, req.params, 'schedule');
    if (!(await store.remove(tenantOf(req, identityOf(res)), name))) throw notFound();
    res.status(204).end();
  };

  /** One job now, outside the cron times, recorded among the schedule's runs; a suspended schedule may be triggered too. */
  const trigger: RequestHandler = async (req, res) => {
    parseOr400(updateScheduleBody.pick({}), req.body ?? {});
    const s = await target(req, res);
    const checked = validateSpec(s.spec);
    if (!checked.ok) throw new HttpError(409, `the schedule's spec is invalid and cannot run: ${checked.message}`);
    const now = deps.now();
    const outcome = await createJob(deps.outbox.track(deps.pool), {
      tenant: s.tenant,
      owner: `schedule:${s.key}`,
      type: checked.spec.jobType,
      payload: checked.spec.payload,
      idempotencyKey: triggerIdempotencyKey(s.uid, now),
    });
    if (outcome.kind !== 'created') throw new HttpError(409, 'a trigger of this schedule at the same instant already ran; retry');
    sendAccepted(res, outcome.jobId, acceptedRetryAfter(deps.stats, deps.jobTypes.poolOf(checked.spec.jobType), outcome.status, undefined, now), { schedule: await view(s) });
  };

  return [
    { method: 'get', path: '/schedules', handlers: [list] },
    { method: 'post', path: '/schedules', handlers: [deps.jsonBody, create] },
    { method: 'get', path: '/schedules/:name', handlers: [show] },
    { method: 'patch', path: '/schedules/:name', handlers: [deps.jsonBody, update] },
    { method: 'delete', path: '/schedules/:name', handlers: [remove] },
    { method: 'post', path: '/schedules/:name/pause', handlers: [deps.jsonBody, suspend(true)] },
    { method: 'post', path: '/schedules/:name/resume', handlers: [deps.jsonBody, suspend(false)] },
    { method: 'post', path: '/schedules/:name/trigger', handlers: [deps.jsonBody, trigger] },
  ];
}

/** The stored spec in the stores' normal form, to tell whether a change changes anything. */
function storedForm(spec: Record<string, unknown>): Record<string, unknown> {
  const checked = validateSpec(spec);
  return checked.ok ? normalForm(checked.spec) : spec;
}

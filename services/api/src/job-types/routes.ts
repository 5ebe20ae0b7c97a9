import type { RequestHandler } from 'express';
import { announceJobType, JOB_DEFAULTS, JOB_TYPES, registerJobType, retireJobType, WORKER_POOLS, type JobTypeVersion } from '@conveyor/jobs';
import type { Pool } from '@conveyor/platform';
import { HttpError } from '../http-errors.js';
import { identityOf } from '../identity.js';
import { parseIdOr404, parseOr400 } from '../request.js';
import type { RouteDef } from '../routes/route.js';
import type { JobTypeHead } from '@conveyor/jobs';
import { loadJobTypes } from './queries.js';
import type { JobTypeRegistry } from './registry.js';
import { jobTypeNameParam, putJobTypeInput } from './schemas.js';
import { priorityOr422 } from '../priority.js';
import { compileSchema } from './validator.js';

export interface JobTypeRoutesDeps {
  pool: Pool;
  registry: JobTypeRegistry;
  jsonBody: RequestHandler;
  /** Whether a team pool's queue is provisioned; without it only the platform's pools are taken. */
  poolQueueExists?: (pool: string) => Promise<boolean>;
}

const ADMIN = 'conveyor:admin';

/** The gateway already requires the scope (its route table); the api refuses on its own as well. */
const requireAdmin: RequestHandler = (_req, res, next) => {
  next(identityOf(res).scopes.has(ADMIN) ? undefined : new HttpError(403, `scope ${ADMIN} required`));
};

export function versionView(v: JobTypeVersion) {
  const { createdAt, ...rest } = v;
  return { ...rest, createdAt: createdAt.toISOString() };
}

function typeView(head: JobTypeHead, versions: JobTypeVersion[]) {
  return {
    name: head.name,
    latestVersion: head.latestVersion,
    retiredAt: head.retiredAt?.toISOString() ?? null,
    createdAt: head.createdAt.toISOString(),
    updatedAt: head.updatedAt.toISOString(),
    latest: versionView(versions.find((v) => v.version === head.latestVersion)!),
  };
}

export function jobTypeRoutes(deps: JobTypeRoutesDeps): RouteDef[] {
  const show = async (name: string) => {
    const [type] = await loadJobTypes(deps.pool, name);
    if (!type) throw new HttpError(404, 'job type not found');
    return { ...typeView(type, type.versions), versions: type.versions.map(versionView) };
  };

  /** 201 when a version was added (new type, changed spec, revived), 200 when the spec equals the latest. */
  const put: RequestHandler = async (req, res) => {
    const { name } = parseOr400(jobTypeNameParam, req.params, ['name']);
    const { priority, ...parsed } = parseOr400(putJobTypeInput, req.body ?? {});
    // The schema as sent, not zod's copy: a record rebuilt by assignment turns an own `__proto__`
    // key into a prototype and drops it silently, where ajv's strict mode names it.
    const spec = {
      ...parsed,
      priority: priority === undefined ? JOB_DEFAULTS.priority : priorityOr422(priority),
      schema: (req.body as { schema: Record<string, unknown> }).schema,
    };
    compileSchema(spec.schema);
    // A type routed to a pool without a queue would lose its jobs at SNS (no subscription matches):
    // the operator's JobType waits as UnknownPool for the same reason.
    if (!WORKER_POOLS.some((p) => p.name === spec.pool) && !(await deps.poolQueueExists?.(spec.pool))) {
      const message = `pool ${spec.pool} has no queue: a platform pool (${WORKER_POOLS.map((p) => p.name).join(', ')}) or a team pool whose WorkerPool is provisioned`;
      throw new HttpError(422, message, [{ path: ['pool'], message }]);
    }
    const outcome = await registerJobType(deps.pool, name, spec);
    if (outcome.created) {
      // After the commit: the other replicas reload on the notification, this one before answering.
      await announceJobType(deps.pool, name);
      await deps.registry.reload(name);
    }
    res.status(outcome.created ? 201 : 200).set('Location', `/job-types/${name}`).json(await show(name));
  };

  const list: RequestHandler = async (_req, res) => {
    const types = await loadJobTypes(deps.pool);
    res.status(200).json({ items: types.map((t) => typeView(t, t.versions)) });
  };

  const get: RequestHandler = async (req, res) => {
    const { name } = parseIdOr404(jobTypeNameParam, req.params, 'job type');
    res.status(200).json(await show(name));
  };

  /**
   * Retires rather than deletes: new submits get 422, jobs already accepted keep running and keep
   * their version (rows of job_type_versions are never removed), and PUT revives the name with a
   * new version. The built-ins cannot be retired: their handlers and routes ship with Conveyor.
   */
  const retire: RequestHandler = async (req, res) => {
    const { name } = parseIdOr404(jobTypeNameParam, req.params, 'job type');
    if (JOB_TYPES.has(name)) throw new HttpError(409, `${name} is built in and cannot be retired`);
    const head = await retireJobType(deps.pool, name);
    if (!head) throw new HttpError(404, 'job type not found');
    await announceJobType(deps.pool, name);
    await deps.registry.reload(name);
    res.status(200).json(await show(name));
  };

  return [
    { method: 'get', path: '/job-types', handlers: [list] },
    { method: 'get', path: '/job-types/:name', handlers: [get] },
    { method: 'put', path: '/job-types/:name', handlers: [requireAdmin, deps.jsonBody, put] },
    { method: 'delete', path: '/job-types/:name', handlers: [requireAdmin, retire] },
  ];
}



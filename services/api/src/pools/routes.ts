/**
 * GET /pools, GET /pools/{name}: each worker pool's backlog, throughput, queues and pause state;
 * GET /pools/{name}/history: its depth and throughput over the past hour(s), from Prometheus.
 * POST /pools/{name}/pause and /resume (scope conveyor:admin at the gateway): the state lives in
 * pool_controls, and the workers hear of a change on POOL_CONTROL_CHANNEL.
 */
import type { RequestHandler } from 'express';
import {
  announcePoolControl,
  POOL_RUNNING,
  readPoolControl,
  readPoolControls,
  setPoolPaused,
  WORKER_POOLS,
  poolQueueNames,
  queueUrl,
  workQueues,
  type PoolControl,
  type PoolQueues,
  type PriorityClass,
} from '@conveyor/jobs';
import { readQueueDepth, type Logger, type Pool, type QueueDepth } from '@conveyor/platform';
import type { DeadLetterQueues } from '../dlq/routes.js';
import { identityOf, readTenant } from '../identity.js';
import { parseIdOr404, parseOr400 } from '../request.js';
import type { RouteDef } from '../routes/route.js';
import { HttpError } from '../http-errors.js';
import { readPoolHistory, type PoolHistorySource } from './history.js';
import { poolJobNumbers } from './queries.js';
import { historyQuery, pauseBody, poolNameParam } from './schemas.js';

/** What the pool routes need of a pool: its name and the job types it runs. */
interface PoolRef {
  name: string;
  jobTypes: readonly string[];
}

export function poolRoutes(deps: {
  pool: Pool;
  jsonBody: RequestHandler;
  queues?: DeadLetterQueues;
  /** Where GET /pools/{name}/history reads from; without it that route answers 503. */
  history?: PoolHistorySource;
  /** The registered job types: the team pools they name, and the types they add to platform pools. */
  jobTypes?: { pools(): Map<string, string[]> };
  logger?: Logger;
}): RouteDef[] {
  const urls = new Map<string, Promise<string | undefined>>();
  const urlOf = (name: string) => {
    let url = urls.get(name);
    if (!url) {
      url = queueUrl(deps.queues!.sqs, name);
      urls.set(name, url);
      url.catch(() => urls.delete(name));
    }
    return url;
  };

  const depthOf = async (name: string): Promise<QueueDepth> => {
    const url = await urlOf(name);
    return url ? readQueueDepth(deps.queues!.sqs, url) : { visible: 0, inFlight: 0, delayed: 0 };
  };

  /** The platform's pools, then the team pools registered types name, each with every type it runs. */
  const knownPools = (): PoolRef[] => {
    const registered = deps.jobTypes?.pools() ?? new Map<string, string[]>();
    const platform = WORKER_POOLS.map((p) => ({ name: p.name, jobTypes: [...new Set([...p.jobTypes, ...(registered.get(p.name) ?? [])])] }));
    const team = [...registered].filter(([name]) => !platform.some((p) => p.name === name)).map(([name, jobTypes]) => ({ name, jobTypes }));
    return [...platform, ...team.sort((a, b) => a.name.localeCompare(b.name))];
  };
  const queueNamesOf = (pool: PoolRef): PoolQueues =>
    deps.queues?.queues.find((q) => q.pool.name === pool.name) ?? poolQueueNames(deps.queues?.namespace ?? '', pool.name);

  /**
   * SQS's counts of the pool's class queues (added up) and its DLQ; null when unreadable or when
   * the pool's normal queue or DLQ does not exist (the Postgres numbers still answer).
   */
  const queueNumbers = async (pool: PoolRef) => {
    if (!deps.queues) return null;
    const names = queueNamesOf(pool);
    try {
      const [queueUrl, dlqUrl] = await Promise.all([urlOf(names.queue), urlOf(names.deadLetterQueue)]);
      if (!queueUrl || !dlqUrl) return null;
      const classes = workQueues(names);
      const [dead, ...depths] = await Promise.all([depthOf(names.deadLetterQueue), ...classes.map((c) => depthOf(c.queue))]);
      const sum = (key: keyof QueueDepth) => depths.reduce((total, d) => total + d[key], 0);
      // A class's waiting work is in both its lanes; the overflow lanes alone say how much of it is bursts.
      const byPriority = { high: 0, normal: 0, low: 0 } as Record<PriorityClass, number>;
      let overflow = 0;
      classes.forEach((c, i) => {
        byPriority[c.priority] += depths[i]!.visible;
        if (c.lane === 'overflow') overflow += depths[i]!.visible;
      });
      return {
        waiting: sum('visible'),
        inFlight: sum('inFlight'),
        delayed: sum('delayed'),
        deadLetters: dead.visible + dead.inFlight + dead.delayed,
        waitingByPriority: byPriority,
        waitingOverflow: overflow,
      };
    } catch (err) {
      deps.logger?.warn({ err, pool: pool.name }, 'could not read the pool\'s queue depths');
      return null;
    }
  };

  const status = async (pool: PoolRef, tenant: string | null, control: PoolControl) => {
    // SQS counts every tenant's messages: only an admin (tenant null) sees them.
    const [jobs, queue] = await Promise.all([poolJobNumbers(deps.pool, pool.jobTypes, tenant), tenant === null ? queueNumbers(pool) : null]);
    const perSecond1m = jobs.finished1m / 60;
    return {
      name: pool.name,
      jobTypes: [...pool.jobTypes],
      paused: control.paused,
      pausedAt: control.pausedAt?.toISOString() ?? null,
      pausedBy: control.pausedBy,
      pauseReason: control.reason,
      queue,
      jobs: { waiting: jobs.waiting, processing: jobs.processing },
      oldestWaitingSeconds: jobs.oldestWaitingSeconds === null ? null : Math.max(0, jobs.oldestWaitingSeconds),
      throughput: { perSecond1m, perSecond5m: jobs.finished5m / 300 },
      estimatedDrainSeconds: jobs.waiting === 0 ? 0 : perSecond1m > 0 ? Math.ceil(jobs.waiting / perSecond1m) : null,
      workers: { alive: jobs.alive, slots: jobs.processing },
      observedAt: jobs.dbNow.toISOString(),
    };
  };

  const list: RequestHandler = async (_req, res) => {
    const tenant = readTenant(identityOf(res));
    const controls = await readPoolControls(deps.pool);
    res.status(200).json({ pools: await Promise.all(knownPools().map((pool) => status(pool, tenant, controls.get(pool.name) ?? POOL_RUNNING))) });
  };
  const poolOf = (req: Parameters<RequestHandler>[0]) => {
    const { name } = parseIdOr404(poolNameParam, req.params, 'pool');
    const pool = knownPools().find((p) => p.name === name);
    if (!pool) throw new HttpError(404, `pool ${name} not found: neither a platform pool nor one a registered job type names`);
    return pool;
  };
  const show: RequestHandler = async (req, res) => {
    const pool = poolOf(req);
    res.status(200).json(await status(pool, readTenant(identityOf(res)), await readPoolControl(deps.pool, pool.name)));
  };

  /** Prometheus holds the history of what the workers export; the gateway lets only conveyor:admin ask (it spans tenants). */
  const history: RequestHandler = async (req, res) => {
    const pool = poolOf(req);
    const { minutes } = parseOr400(historyQuery, req.query);
    if (!deps.history) throw new HttpError(503, 'pool history needs Prometheus: the api has no PROMETHEUS_URL');
    const queues = workQueues(queueNamesOf(pool)).map((c) => c.queue);
    res.status(200).json({ pool: pool.name, ...(await readPoolHistory(deps.history, { queues, jobTypes: pool.jobTypes }, minutes, new Date())) });
  };

  /** Idempotent: pausing a paused pool (or resuming a running one) answers 200 with its state and writes nothing. */
  const control = (paused: boolean): RequestHandler => async (req, res) => {
    const pool = poolOf(req);
    // On a resume the reason goes to the audit event only.
    const { reason } = parseOr400(pauseBody, req.body ?? {});
    const actor = identityOf(res).subject;
    const outcome = await setPoolPaused(deps.pool, pool.name, paused, actor, reason ?? null);
    if (outcome.changed) {
      deps.logger?.info({ pool: pool.name, actor, reason }, paused ? 'pool paused' : 'pool resumed');
      await announcePoolControl(deps.pool, pool.name);
    }
    res.status(200).json(await status(pool, null, outcome.control));
  };
  return [
    { method: 'get', path: '/pools', handlers: [list] },
    { method: 'get', path: '/pools/:name', handlers: [show] },
    { method: 'get', path: '/pools/:name/history', handlers: [history] },
    { method: 'post', path: '/pools/:name/pause', handlers: [deps.jsonBody, control(true)] },
    { method: 'post', path: '/pools/:name/resume', handlers: [deps.jsonBody, control(false)] },
  ];
}

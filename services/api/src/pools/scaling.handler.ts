/**
 * GET /scaling/pools/{name}?concurrency=..&targetDrainSeconds=..&leadSeconds=.. on the api's ops
 * port: the pool's desired worker count for KEDA's metrics-api trigger (valueLocation
 * desiredWorkers, targetValue 1). Cluster-internal: the ops port is not behind the gateway.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readPoolControl, WORKER_POOLS } from '@conveyor/jobs';
import { validateSpec } from '@conveyor/jobs/schedules';
import type { Logger, Pool } from '@conveyor/platform';
import type { JobTypeRegistry } from '../job-types/registry.js';
import type { ScheduleStore } from '../schedules/store.js';
import { poolNameParam } from './schemas.js';
import { desiredWorkers, readTypeLoads, scalingQuery, type UpcomingFire } from './scaling.js';

export const SCALING_PREFIX = '/scaling/pools/';

export interface ScalingDeps {
  pool: Pool;
  jobTypes: JobTypeRegistry;
  schedules: ScheduleStore;
  logger: Logger;
  now?: () => Date;
}

/** Fires of the pool's types due within `leadSeconds` (suspended and invalid schedules never fire). */
async function upcomingFires(store: ScheduleStore, types: readonly string[], now: Date, leadSeconds: number): Promise<UpcomingFire[]> {
  if (leadSeconds === 0) return [];
  const horizon = now.getTime() + leadSeconds * 1000;
  const fires: UpcomingFire[] = [];
  for (const stored of await store.list(null)) {
    const checked = validateSpec(stored.spec);
    if (!checked.ok || checked.spec.suspend || !types.includes(checked.spec.jobType)) continue;
    const at = checked.cron.nextRun(now);
    if (at && at.getTime() <= horizon) fires.push({ schedule: stored.name, tenant: stored.tenant, jobType: checked.spec.jobType, at });
  }
  return fires;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function scalingHandler(deps: ScalingDeps) {
  const now = deps.now ?? (() => new Date());
  return (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://ops');
    const name = poolNameParam.safeParse({ name: decodeURIComponent(url.pathname.slice(SCALING_PREFIX.length)) });
    const query = scalingQuery.safeParse(Object.fromEntries(url.searchParams));
    if (!name.success) return send(res, 404, { error: 'pool not found' });
    if (!query.success) return send(res, 400, { error: 'bad query', details: query.error.issues.map((i) => ({ path: i.path, message: i.message })) });
    const types = WORKER_POOLS.find((p) => p.name === name.data.name)?.jobTypes ?? deps.jobTypes.typesOf(name.data.name);
    if (types.length === 0) return send(res, 404, { error: `pool ${name.data.name} runs no job type` });
    const at = now();
    Promise.all([
      readTypeLoads(deps.pool, types),
      upcomingFires(deps.schedules, types, at, query.data.leadSeconds),
      readPoolControl(deps.pool, name.data.name),
    ]).then(
      ([loads, upcoming, control]) => {
        const { concurrency, targetDrainSeconds, leadSeconds } = query.data;
        const outcome = desiredWorkers({ loads, upcoming, concurrency, targetDrainSeconds, paused: control.paused });
        send(res, 200, {
          pool: name.data.name,
          ...outcome,
          paused: control.paused,
          types: loads,
          upcomingFires: upcoming.map((f) => ({ ...f, at: f.at.toISOString() })),
          concurrency,
          targetDrainSeconds,
          leadSeconds,
          observedAt: at.toISOString(),
        });
      },
      (err: unknown) => {
        deps.logger.warn({ err, pool: name.data.name }, 'could not compute the pool\'s desired workers');
        send(res, 503, { error: 'could not read the pool\'s load' });
      },
    );
  };
}

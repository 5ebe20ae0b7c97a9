import { runMain } from '@conveyor/platform';
import { JOB_TYPES, WORKER_POOLS } from '@conveyor/jobs';
import { defineJobType, runWorker } from '@conveyor/worker-sdk';

/**
 * The built-in worker: the catalog's job types run by the worker SDK, as a team's worker runs its
 * own. WORKER_POOL picks the pool; the worker runs that pool's types (topology.ts).
 */
runMain('worker', async () => {
  const poolName = process.env.WORKER_POOL || 'default';
  const pool = WORKER_POOLS.find((p) => p.name === poolName);
  if (!pool) throw new Error(`WORKER_POOL "${poolName}" is not one of ${WORKER_POOLS.map((p) => p.name).join(', ')}`);
  const jobTypes = pool.jobTypes.map((name) => {
    const type = JOB_TYPES.get(name)!;
    return defineJobType({ name, version: 1, schema: type.payload, handler: type.handle });
  });
  await runWorker({ pool: poolName, jobTypes });
});

// Scenario `noisy-neighbour` (issue 23): a quiet tenant submits a few jobs a second, first on an
// idle system, then while another tenant's burst of NOISY_BURST jobs (50,000), submitted at once,
// goes through the pipeline and drains. The quiet tenant's enqueue-to-start p99 under the burst
// must stay within 2x its idle p99. Part of `make bench` for Conveyor (main.ts); alone, with the
// infrastructure up and the services built:
//   NOISY_BURST=50000 node --import ./bench/node_modules/tsx/dist/loader.mjs bench/src/noisy-neighbour.ts
// Knobs: NOISY_BURST (burst jobs, 50,000), NOISY_QUIET_RATE (quiet jobs/s, 10), NOISY_IDLE_SECONDS
// (the idle phase, 20), BENCH_CONCURRENCY (handlers per worker, 16). Writes results/noisy-neighbour.json.
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { closedLoop, createPool, openLoop, type LoadResult } from './load.js';
import { latencySummary, round } from './stats.js';
import { runAlone } from './standalone.js';
import type { System } from './systems/system.js';

export interface NoisyNeighbourConfig {
  burst: number;
  quietRate: number;
  idleSeconds: number;
  /** How long the burst's drain may take before the scenario gives up. */
  timeoutSeconds: number;
}

/** The quiet tenant's p99 under the burst may be at most this many times its idle p99. */
export const QUIET_P99_FACTOR = 2;
/** Jobs per POST /jobs/batch of the burst: the API's limit, so the burst is accepted as fast as it can be. */
const BATCH = 1_000;
/** The quiet tenant sends in slices of this many seconds until the burst has finished. */
const SLICE_SECONDS = 5;

export function noisyNeighbourConfig(env: NodeJS.ProcessEnv = process.env, smoke = false): NoisyNeighbourConfig {
  return {
    // Smoke: past the api's threshold of 100 waiting (TENANT_OVERFLOW_AFTER), so the overflow lane is exercised too.
    burst: Number(env.NOISY_BURST ?? (smoke ? 1_000 : 50_000)),
    quietRate: Number(env.NOISY_QUIET_RATE ?? 10),
    idleSeconds: Number(env.NOISY_IDLE_SECONDS ?? (smoke ? 2 : 20)),
    timeoutSeconds: Number(env.NOISY_TIMEOUT_SECONDS ?? 600),
  };
}

/**
 * 1. Idle: the quiet tenant alone, `quietRate` jobs/s for `idleSeconds`; its enqueue-to-start p99.
 * 2. Burst: the noisy tenant submits `burst` jobs in batches of 1,000 as fast as they are accepted
 *    (4 connections); from the same moment until the last burst job has finished, the quiet tenant
 *    goes on at `quietRate`. Its enqueue-to-start under the burst is compared with the idle p99,
 *    and split by whether it was submitted while the burst was still crossing the outbox, Kafka
 *    and the bridge or once all of it was in the pool's queues.
 * Enqueue-to-start is Postgres' `started_at - created_at` of each job.
 */
export async function runNoisyNeighbour(system: System, cfg: NoisyNeighbourConfig, log: (line: string) => void) {
  if (!system.tenantTargets || !system.completedBy) throw new Error(`${system.name} has no tenants to tell apart`);
  const completedBy = system.completedBy;
  const idleRun = 'noisy-quiet-idle';
  const quietRun = 'noisy-quiet-burst';
  const burstRun = 'noisy-burst';
  const quietIdle = await system.tenantTargets('quiet', idleRun, 1);
  const quietBurst = await system.tenantTargets('quiet', quietRun, 1);
  const noisy = await system.tenantTargets('noisy', burstRun, BATCH);
  const quietPool = createPool(quietIdle.single.url, 8);
  const burstPool = createPool(noisy.batch.url, 4);
  const waitFor = async (what: string, total: () => Promise<boolean>) => {
    const deadline = performance.now() + cfg.timeoutSeconds * 1000;
    while (!(await total())) {
      if (performance.now() > deadline) throw new Error(`noisy-neighbour: ${what} not done in ${cfg.timeoutSeconds} s`);
      await sleep(100);
    }
  };
  try {
    const base = await system.completed();
    const idle = await openLoop(quietPool, quietIdle.single, cfg.quietRate, cfg.idleSeconds);
    await waitFor('the idle phase', async () => (await system.completed()) - base >= idle.ok);
    const idleStarts = (await system.timings(idleRun)).map((t) => t.startedMs - t.createdMs);
    const idleSummary = latencySummary(idleStarts);
    log(`  noisy-neighbour: quiet tenant alone, ${idle.ok} jobs at ${cfg.quietRate}/s: enqueue-to-start p50 ${idleSummary.p50} ms p99 ${idleSummary.p99} ms`);

    const afterIdle = await system.completed();
    const noisyBefore = await completedBy('noisy');
    const burstTotal = Math.ceil(cfg.burst / BATCH) * BATCH;
    const t0 = performance.now();
    const startedAt = Date.now();
    let inQueuesAt: number | undefined;
    let acceptedSeconds: number | undefined;
    const burst = closedLoop(burstPool, noisy.batch, 4, { requests: burstTotal / BATCH }).then((r) => {
      acceptedSeconds = (performance.now() - t0) / 1000;
      if (r.errors > 0) throw new Error(`burst: ${r.errors} batches refused (${JSON.stringify(r.statuses)})`);
      return r;
    });
    let quietSent = 0;
    let quietOk = 0;
    let burstDone = false;
    // When the whole burst had crossed the outbox, Kafka and the bridge (accepted, and every job
    // finished or in the pool's queues), by this process's clock, which is Postgres' (same machine).
    const watch = (async () => {
      while (!burstDone) {
        const done = (await completedBy('noisy')) - noisyBefore;
        if (inQueuesAt === undefined && acceptedSeconds !== undefined && done + ((await system.queued?.()) ?? 0) >= burstTotal) inQueuesAt = Date.now();
        if (done >= burstTotal) burstDone = true;
        else await sleep(200);
      }
    })();
    const quiet = (async () => {
      while (!burstDone) {
        const slice: LoadResult = await openLoop(quietPool, quietBurst.single, cfg.quietRate, SLICE_SECONDS, quietSent);
        quietSent += slice.sent;
        quietOk += slice.ok;
      }
    })();
    const accepted = await burst;
    log(`  noisy-neighbour: burst of ${accepted.ok * BATCH} jobs accepted in ${round(acceptedSeconds!, 1)} s`);
    await Promise.race([
      Promise.all([watch, quiet]),
      sleep(cfg.timeoutSeconds * 1000).then(() => {
        throw new Error(`noisy-neighbour: the burst did not finish in ${cfg.timeoutSeconds} s`);
      }),
    ]);
    const drainSeconds = (performance.now() - t0) / 1000;
    await waitFor('the quiet jobs', async () => (await system.completed()) - afterIdle >= burstTotal + quietOk);

    const quietTimings = await system.timings(quietRun);
    const underBurst = quietTimings.map((t) => t.startedMs - t.createdMs);
    const inTransit = quietTimings.filter((t) => inQueuesAt === undefined || t.createdMs < inQueuesAt).map((t) => t.startedMs - t.createdMs);
    const inDrain = quietTimings.filter((t) => inQueuesAt !== undefined && t.createdMs >= inQueuesAt).map((t) => t.startedMs - t.createdMs);
    const burstStarts = (await system.timings(burstRun)).map((t) => t.startedMs);
    const lastQuietStart = Math.max(...quietTimings.map((t) => t.startedMs));
    const summary = latencySummary(underBurst);
    const limit = round(idleSummary.p99 * QUIET_P99_FACTOR);
    // Where the quiet tenant's waits went, hop by hop (the system's own timestamps).
    const hops = system.hops ? Object.fromEntries(Object.entries(await system.hops(quietRun)).map(([hop, ms]) => [hop, latencySummary(ms)])) : undefined;
    const result = {
      burst: burstTotal,
      quietRate: cfg.quietRate,
      idle: { jobs: idleStarts.length, enqueueToStartMs: idleSummary },
      underBurst: { jobs: underBurst.length, enqueueToStartMs: summary },
      // Submitted while the burst was still crossing the outbox, Kafka and the bridge / once it was all in the queues.
      whileBurstInTransit: latencySummary(inTransit),
      whileBurstInQueues: latencySummary(inDrain),
      quietHops: hops,
      targetP99Ms: limit,
      met: summary.p99 <= limit,
      burstAcceptedSeconds: round(acceptedSeconds!, 1),
      burstInQueuesSeconds: inQueuesAt === undefined ? null : round((inQueuesAt - startedAt) / 1000, 1),
      burstJobsPerSecond: round(burstTotal / drainSeconds),
      // How much of the burst was still to start when the last quiet job started.
      burstStartedAfterLastQuiet: burstStarts.filter((s) => s > lastQuietStart).length,
    };
    log(
      `  noisy-neighbour: quiet tenant under the burst, ${underBurst.length} jobs: p50 ${summary.p50} ms p99 ${summary.p99} ms max ${summary.max} ms ` +
        `(idle p99 ${idleSummary.p99} ms, target <= ${QUIET_P99_FACTOR}x = ${limit} ms: ${result.met ? 'met' : 'MISSED'}); ` +
        `while the burst was in transit p99 ${result.whileBurstInTransit.p99} ms (${inTransit.length} jobs), once in the queues p99 ${result.whileBurstInQueues.p99} ms (${inDrain.length} jobs); ` +
        `burst in the queues after ${result.burstInQueuesSeconds ?? '-'} s, drained at ${result.burstJobsPerSecond} jobs/s`,
    );
    for (const [hop, ms] of Object.entries(hops ?? {})) log(`  noisy-neighbour: quiet tenant under the burst, ${hop}: p50 ${ms.p50} ms p99 ${ms.p99} ms`);
    return result;
  } finally {
    await Promise.all([quietPool.close(), burstPool.close()]);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const cfg = noisyNeighbourConfig();
  await runAlone('noisy-neighbour', cfg, (system, log) => runNoisyNeighbour(system, cfg, log));
}

// Scenario `priority` (issue 23): a backlog of normal jobs drains while high jobs are submitted;
// how long a high job waits from its enqueue to its start (target: p99 under 1 s), and what the
// normal jobs drain at meanwhile. Part of `make bench` for Conveyor (main.ts); alone, with the
// infrastructure up and the services built:
//   PRIORITY_BACKLOG=20000 node --import ./bench/node_modules/tsx/dist/loader.mjs bench/src/priority.ts
// Knobs: PRIORITY_BACKLOG (normal jobs, 20,000), PRIORITY_HIGH (high jobs, 200), PRIORITY_HIGH_RATE
// (high jobs/s, 20), BENCH_CONCURRENCY (handlers per worker, 16). Writes results/priority.json.
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { closedLoop, createPool, openLoop } from './load.js';
import { latencySummary, round } from './stats.js';
import { runAlone } from './standalone.js';
import type { System } from './systems/system.js';

export interface PriorityConfig {
  backlog: number;
  high: number;
  highRate: number;
  /** How long the whole drain may take before the scenario gives up. */
  timeoutSeconds: number;
}

export const HIGH_P99_TARGET_MS = 1_000;
const BATCH = 500;

export function priorityConfig(env: NodeJS.ProcessEnv = process.env, smoke = false): PriorityConfig {
  return {
    backlog: Number(env.PRIORITY_BACKLOG ?? (smoke ? 1_000 : 20_000)),
    high: Number(env.PRIORITY_HIGH ?? (smoke ? 20 : 200)),
    highRate: Number(env.PRIORITY_HIGH_RATE ?? 20),
    timeoutSeconds: Number(env.PRIORITY_TIMEOUT_SECONDS ?? 300),
  };
}

/**
 * 1. The backlog: `backlog` normal jobs in batches of 500, as fast as they are accepted.
 * 2. Once its drain has begun, `high` high jobs one by one at `highRate`/s while it goes on.
 * 3. Both waited for; enqueue-to-start of the high jobs from Postgres' own timestamps, and the
 *    normal jobs' rate from their first start to their last.
 */
export async function runPriority(system: System, cfg: PriorityConfig, log: (line: string) => void) {
  if (!system.priorityTargets) throw new Error(`${system.name} has no priority classes`);
  const normalRun = 'priority-normal';
  const highRun = 'priority-high';
  const pool = createPool(system.priorityTargets(normalRun, 'normal', BATCH).batch.url, 16);
  try {
    const base = await system.completed();
    const requests = Math.ceil(cfg.backlog / BATCH);
    const t0 = performance.now();
    const backlog = await closedLoop(pool, system.priorityTargets(normalRun, 'normal', BATCH).batch, 4, { requests });
    if (backlog.errors > 0) throw new Error(`backlog: ${backlog.errors} batches refused (${JSON.stringify(backlog.statuses)})`);
    const normal = backlog.ok * BATCH;
    log(`  priority: ${normal} normal jobs accepted in ${round((performance.now() - t0) / 1000, 1)} s`);
    // The backlog is work waiting for the pool's workers: wait until all of it has crossed the
    // outbox, Kafka and the bridge (those hops are first in, first out for every class, so high
    // jobs sent while 18,000 normal ones are still in transit wait behind them there; see
    // docs/design.md, "Priorities"), and until its drain has begun.
    const inTransit = async () => normal - ((await system.completed()) - base) - ((await system.queued?.()) ?? normal);
    while ((await inTransit()) > 0) await sleep(100);
    const handedOver = (performance.now() - t0) / 1000;
    while ((await system.completed()) - base < Math.min(500, normal / 10)) await sleep(50);
    log(`  priority: the backlog was in the pool's queues ${round(handedOver, 1)} s after the first submit`);
    const highSent = await openLoop(pool, system.priorityTargets(highRun, 'high', 1).single, cfg.highRate, cfg.high / cfg.highRate);
    const highs = highSent.ok;
    const doneAtHighEnd = (await system.completed()) - base;
    log(`  priority: ${highs} high jobs sent at ${cfg.highRate}/s with ${normal + highs - doneAtHighEnd} jobs still unfinished`);
    const deadline = performance.now() + cfg.timeoutSeconds * 1000;
    while ((await system.completed()) - base < normal + highs) {
      if (performance.now() > deadline) throw new Error(`priority: not finished in ${cfg.timeoutSeconds} s`);
      await sleep(200);
    }
    const high = (await system.timings(highRun)).map((t) => t.startedMs - t.createdMs);
    const normalTimings = await system.timings(normalRun);
    const starts = normalTimings.map((t) => t.startedMs);
    const drainSeconds = (Math.max(...starts) - Math.min(...starts)) / 1000;
    const lastHighStart = Math.max(...(await system.timings(highRun)).map((t) => t.startedMs));
    const result = {
      backlog: normal,
      highJobs: highs,
      highRate: cfg.highRate,
      highEnqueueToStartMs: latencySummary(high),
      targetP99Ms: HIGH_P99_TARGET_MS,
      met: latencySummary(high).p99 < HIGH_P99_TARGET_MS,
      normalJobsPerSecond: round(normalTimings.length / Math.max(drainSeconds, 0.001)),
      backlogInQueueSeconds: round(handedOver, 1),
      // How much of the backlog was still to start when the last high job started: high work went
      // in front of it, not after it.
      normalStartedAfterLastHigh: starts.filter((s) => s > lastHighStart).length,
    };
    log(
      `  priority: high enqueue-to-start p50 ${result.highEnqueueToStartMs.p50} ms p99 ${result.highEnqueueToStartMs.p99} ms max ${result.highEnqueueToStartMs.max} ms ` +
        `(target p99 < ${HIGH_P99_TARGET_MS} ms: ${result.met ? 'met' : 'MISSED'}); normal drained at ${result.normalJobsPerSecond} jobs/s, ` +
        `${result.normalStartedAfterLastHigh} of ${normal} normal jobs started after the last high one`,
    );
    return result;
  } finally {
    await pool.close();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const cfg = priorityConfig();
  await runAlone('priority', cfg, (system, log) => runPriority(system, cfg, log));
}

import { noisyNeighbourConfig, type NoisyNeighbourConfig } from './noisy-neighbour.js';
import { priorityConfig, type PriorityConfig } from './priority.js';

/** Sizes of a run: the full benchmark (< 20 min) or the CI smoke run (~30 s, tiny numbers, every code path). */
export interface BenchConfig {
  smoke: boolean;
  systems: string[];
  repeats: number;
  concurrency: number;
  warmupSeconds: number;
  saturation: { connections: number; seconds: number };
  /** 1c. accepted-batch: closed loop of POST /jobs/batch with `size` jobs a request (systems that have it). */
  batch: { size: number; connections: number; seconds: number };
  openLoopSeconds: number;
  drainJobs: number;
  sustainedSeconds: number;
  delayed: { jobs: number; windowSeconds: number; leadSeconds: number };
  /** How long the drain may take to finish after its last job was accepted. */
  drainTimeoutSeconds: number;
  /** How long any other run may take to finish before its backlog is discarded (a system that cannot keep up). */
  settleSeconds: number;
  profile: boolean;
  /** Scenario `priority` (priority.ts), for the systems that have priority classes. */
  priority: PriorityConfig;
  /** Scenario `noisy-neighbour` (noisy-neighbour.ts), for the systems that tell tenants apart. */
  noisyNeighbour: NoisyNeighbourConfig;
}

export function loadBenchConfig(env: NodeJS.ProcessEnv = process.env): BenchConfig {
  const smoke = env.BENCH_SMOKE === '1' || env.BENCH_SMOKE === 'true';
  // The smoke run leaves out pg-boss's defaults: the same adapter as tuned, only slower to drain (2 s polls).
  const systems = (env.BENCH_SYSTEMS ?? (smoke ? 'conveyor,bullmq,pgboss-tuned' : 'conveyor,bullmq,pgboss,pgboss-tuned')).split(',').map((s) => s.trim()).filter(Boolean);
  const known = ['conveyor', 'bullmq', 'pgboss', 'pgboss-tuned'];
  const unknown = systems.filter((s) => !known.includes(s));
  if (unknown.length) throw new Error(`BENCH_SYSTEMS: unknown ${unknown.join(', ')} (known: ${known.join(', ')})`);
  const common = { systems, concurrency: Number(env.BENCH_CONCURRENCY ?? 16), profile: env.BENCH_PROFILE === '1', priority: priorityConfig(env, smoke),
    noisyNeighbour: noisyNeighbourConfig(env, smoke),
  };
  if (smoke) {
    return {
      ...common,
      smoke,
      repeats: 1,
      warmupSeconds: 0.3,
      saturation: { connections: 8, seconds: 0.5 },
      batch: { size: 10, connections: 2, seconds: 0.5 },
      openLoopSeconds: 0.5,
      drainJobs: 100,
      sustainedSeconds: 1,
      delayed: { jobs: 50, windowSeconds: 2, leadSeconds: 0.5 },
      drainTimeoutSeconds: 30,
      settleSeconds: 30,
    };
  }
  return {
    ...common,
    smoke,
    repeats: Number(env.BENCH_REPEATS ?? 3),
    warmupSeconds: 3,
    saturation: { connections: 32, seconds: 6 },
    batch: { size: Number(env.BENCH_BATCH_SIZE ?? 100), connections: 8, seconds: 6 },
    openLoopSeconds: 6,
    drainJobs: Number(env.BENCH_DRAIN_JOBS ?? 50_000),
    sustainedSeconds: 8,
    delayed: { jobs: Number(env.BENCH_DELAYED_JOBS ?? 10_000), windowSeconds: 60, leadSeconds: 12 },
    drainTimeoutSeconds: 120,
    settleSeconds: 20,
  };
}

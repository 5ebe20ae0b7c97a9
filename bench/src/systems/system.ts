import type { Proc } from '../cpu.js';
import type { Target } from '../load.js';

/** One job's own timestamps as the system recorded them (ms since the epoch). */
export interface JobTiming {
  createdMs: number;
  startedMs: number;
  /** When the job was due (runAt / delay / startAfter); null for immediate jobs. */
  dueMs: number | null;
}

/** A job system under test, started fresh; the harness only talks to it through this. */
export interface System {
  name: string;
  description: string;
  /** The Postgres database the system runs in, where it has its own (cost.ts reads its statistics). */
  database?: string;
  /** A service's /metrics address, where the system has its own services (cost.ts reads the worker's SQS calls). */
  metricsUrl?: (service: string) => string | undefined;
  /** POST /jobs of this system; every body carries its run tag so timings can be told apart. */
  target: (run: string, runAt?: (seq: number) => Date) => Target;
  /** POST /jobs/batch, `size` jobs a request (request seq carries jobs seq*size ...), where the system has one. */
  batchTarget?: (run: string, size: number) => Target;
  /** POST /jobs and /jobs/batch of jobs of a priority class, where the system has classes (the priority scenario). */
  priorityTargets?: (run: string, priority: string, batchSize: number) => { single: Target; batch: Target };
  /** POST /jobs and /jobs/batch as a user of the given tenant, where the system has tenants (the noisy-neighbour scenario). */
  tenantTargets?: (tenant: string, run: string, batchSize: number) => Promise<{ single: Target; batch: Target }>;
  /** Messages waiting or running in the default pool's queues, every class and lane (the priority scenario). */
  queued?: () => Promise<number>;
  /** Jobs of one tenant that finished successfully, where the system has tenants (the noisy-neighbour scenario). */
  completedBy?: (tenant: string) => Promise<number>;
  /** Jobs that finished successfully since the system started. */
  completed: () => Promise<number>;
  /** Timings of the finished jobs of one run. */
  timings: (run: string) => Promise<JobTiming[]>;
  /**
   * Where enqueue-to-start goes, for a system with several hops: per hop, the milliseconds each
   * finished job of the run spent in it.
   */
  hops?: (run: string) => Promise<Record<string, number[]>>;
  /** Every process doing this system's work, its servers marked "infra". */
  procs: () => Promise<Proc[]>;
  /**
   * The processes that only consume accepted jobs (workers, and Conveyor's bridge and scheduler):
   * stopped while the intake alone is measured.
   */
  consumers: () => Promise<number[]>;
  /**
   * Deletes accepted jobs that have not started, for a system too slow to finish a run in time
   * (pg-boss's defaults); returns how many, so the harness stops waiting for them.
   */
  discardBacklog?: () => Promise<number>;
  stop: () => Promise<void>;
}

const PAD = 'x'.repeat(64);

/** The same ~150-byte JSON request for every system: a no-op job tagged with its run. */
export function jobBody(run: string, seq: number, runAt?: Date, priority?: string): string {
  const body: Record<string, unknown> = { type: 'noop', payload: { run, seq, source: 'bench', pad: PAD } };
  if (runAt) body.runAt = runAt.toISOString();
  if (priority) body.priority = priority;
  return JSON.stringify(body);
}

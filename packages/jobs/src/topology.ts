import { z } from 'zod';
import { PRIORITY_CLASSES, type PriorityClass } from '@conveyor/platform';

/**
 * One source of truth for the names of every topic and queue: services, the provisioning step,
 * the Helm chart's KEDA triggers and tests all derive them from here. A namespace prefixes every
 * name so tests (and several installations sharing one broker) never see each other's messages.
 */

export interface WorkerPool {
  /** Pool name: the worker's WORKER_POOL setting and the chart's worker component suffix. */
  name: string;
  jobTypes: readonly string[];
  /** How long a received message stays hidden before another worker may take it. */
  visibilityTimeoutSeconds: number;
  /**
   * Receives of one message before SQS moves it to the pool's DLQ. Independent of a job's
   * maxAttempts: every retry travels in a fresh message (README, "Retries"), so a message is received
   * once per run plus the deliveries that run nothing; only a message that keeps killing workers
   * before they record anything reaches this bound.
   */
  maxReceiveCount: number;
}

export const WORKER_POOLS: readonly WorkerPool[] = [
  { name: 'default', jobTypes: ['noop', 'sleep', 'points.grant'], visibilityTimeoutSeconds: 60, maxReceiveCount: 10 },
  { name: 'reports', jobTypes: ['report.generate'], visibilityTimeoutSeconds: 120, maxReceiveCount: 10 },
];

/**
 * A pool's queues: one per priority class, each subscribed with a filter on `pool` and `priority`,
 * and one DLQ they all redrive to (a dead letter is a dead letter whatever its class, and the
 * redrive requeues through Postgres, which keeps the job's class).
 */
export interface PoolQueues {
  /** The `normal` class's queue: the pool's queue of before priority classes, so its backlog stays where it was. */
  queue: string;
  deadLetterQueue: string;
  classQueues: Record<PriorityClass, string>;
  /**
   * Each class's overflow lane: where a tenant's jobs go once it already has more than a threshold
   * waiting in the pool (docs/design.md, "Fairness between tenants"). Served after the class's
   * regular queue, with a guaranteed share.
   */
  overflowQueues: Record<PriorityClass, string>;
}

/** A pool's queues hold its work in two lanes per class: `regular`, and `overflow` for tenants over their threshold. */
export const LANES = ['regular', 'overflow'] as const;
export type Lane = (typeof LANES)[number];

export interface Topology {
  /**
   * `requestedOverflow` carries the jobs of the overflow lane (docs/design.md, "Fairness between
   * tenants"), so a burst waiting in Kafka for the bridge never sits in front of other tenants' jobs.
   */
  topics: { requested: string; requestedOverflow: string; events: string };
  snsTopic: string;
  queues: Array<{ pool: WorkerPool } & PoolQueues>;
  /** `bridgeOverflow` reads `requestedOverflow`: a group and a fetch loop of its own, so the lanes never wait for each other. */
  consumerGroups: { bridge: string; bridgeOverflow: string; events: string };
}

const NAMESPACE = /^[a-z0-9-]{0,40}$/;

export function topology(namespace = ''): Topology {
  if (!NAMESPACE.test(namespace)) throw new Error(`namespace "${namespace}" must match ${NAMESPACE}`);
  const ns = namespace ? `${namespace}-` : '';
  return {
    topics: { requested: `${ns}jobs.requested`, requestedOverflow: `${ns}jobs.requested.overflow`, events: `${ns}jobs.events` },
    snsTopic: `${ns}jobs`,
    queues: WORKER_POOLS.map((pool) => ({ pool, ...poolQueueNames(namespace, pool.name) })),
    consumerGroups: { bridge: `${ns}conveyor-bridge`, bridgeOverflow: `${ns}conveyor-bridge-overflow`, events: `${ns}conveyor-events` },
  };
}

/** A pool's queue names: built-in pools and the pools teams run with the worker SDK alike. */
export function poolQueueNames(namespace: string, pool: string): PoolQueues {
  if (!NAMESPACE.test(namespace)) throw new Error(`namespace "${namespace}" must match ${NAMESPACE}`);
  const ns = namespace ? `${namespace}-` : '';
  const queue = `${ns}conveyor-${pool}`;
  const classQueues = { high: `${queue}-high`, normal: queue, low: `${queue}-low` };
  return {
    queue,
    deadLetterQueue: `${queue}-dlq`,
    classQueues,
    overflowQueues: { high: `${queue}-high-overflow`, normal: `${queue}-overflow`, low: `${queue}-low-overflow` },
  };
}

/** One queue that holds a pool's work: its class, its lane, and a key unique in the pool (`normal`, `normal_overflow`). */
export interface WorkQueue {
  priority: PriorityClass;
  lane: Lane;
  /** `<class>` for the regular lane, `<class>_overflow` for the other: KEDA trigger and metric names. */
  key: string;
  queue: string;
}

/**
 * Every queue of a pool that holds work to run, highest class first and, within a class, regular
 * before overflow: what a count of its backlog adds up.
 */
export function workQueues(queues: Pick<PoolQueues, 'classQueues' | 'overflowQueues'>): WorkQueue[] {
  return PRIORITY_CLASSES.flatMap((priority) => [
    { priority, lane: 'regular' as const, key: priority, queue: queues.classQueues[priority] },
    { priority, lane: 'overflow' as const, key: `${priority}_overflow`, queue: queues.overflowQueues[priority] },
  ]);
}

export function poolOf(type: string): WorkerPool | undefined {
  return WORKER_POOLS.find((pool) => pool.jobTypes.includes(type));
}

/** The config variable every service uses to pick its namespace (empty in production). */
export const topologyEnv = {
  CONVEYOR_NAMESPACE: z.string().regex(NAMESPACE, 'lowercase letters, digits and dashes, at most 40').default(''),
};

import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { bootstrap, createPool, createS3Client, createSqsClient, readQueueDepth, type Logger } from '@conveyor/platform';
import { CANCEL_CHANNEL, createOutboxSignal, poolQueueNames, startListener, WORKER_POOLS, workQueues } from '@conveyor/jobs';
import { configSchema } from './config.js';
import type { AnyJobTypeDefinition, JobTypeDefinition } from './job-type.js';
import { handleMessage } from './job-runner.js';
import { RunBatcher } from './run-batcher.js';
import { RunningJobs } from './running-jobs.js';
import { createWorkerMetrics, registerQueueDepth } from './metrics.js';
import { Poller } from './poller.js';
import { PoolPause, watchPoolPause } from './pool-pause.js';
import { SqsJobQueue } from './queue.consumer.js';

export interface RunWorkerOptions {
  /** The worker pool whose queue (`conveyor-<pool>`) this process drains; default WORKER_POOL, else `default`. */
  pool?: string;
  /** The types this worker runs; a message of any other type is failed and moved to the pool's DLQ. */
  jobTypes: readonly AnyJobTypeDefinition[];
  /** Most handlers at once; default WORKER_CONCURRENCY (16). */
  concurrency?: number;
  /**
   * The queue's visibility timeout in seconds (the WorkerPool's), which each heartbeat renews.
   * Default WORKER_VISIBILITY_TIMEOUT_SECONDS (set from the WorkerPool), else the built-in pool's, else 60.
   */
  visibilityTimeoutSeconds?: number;
  /** Service name in logs, metrics and traces; default `worker`. */
  name?: string;
  /** Where the settings are read (README, "Configuration"); default process.env. */
  env?: Record<string, string | undefined>;
}

export interface RunningWorker {
  logger: Logger;
  /** Drains as SIGTERM does (stops receiving, waits for running jobs, hands back the rest). */
  stop: () => Promise<void>;
}

/**
 * Starts a worker: validated settings (a wrong one exits naming the variable), the ops server
 * (/healthz, /readyz, /metrics), the cancellation listener and the poller. SIGTERM and SIGINT drain it.
 */
export async function runWorker(options: RunWorkerOptions): Promise<RunningWorker> {
  const name = options.name ?? 'worker';
  const { config, logger, metrics, service } = bootstrap(name, configSchema, options.env ?? process.env);
  const poolName = options.pool ?? config.WORKER_POOL ?? 'default';
  const jobTypes = registry(options.jobTypes);
  const builtIn = WORKER_POOLS.find((p) => p.name === poolName);
  const visibilitySeconds = options.visibilityTimeoutSeconds ?? config.WORKER_VISIBILITY_TIMEOUT_SECONDS ?? builtIn?.visibilityTimeoutSeconds ?? 60;
  const concurrency = options.concurrency ?? config.WORKER_CONCURRENCY;
  const names = { ...poolQueueNames(config.CONVEYOR_NAMESPACE, poolName), pool: { name: poolName } };
  const pool = createPool({ connectionString: config.DATABASE_URL, max: config.DATABASE_POOL_MAX, applicationName: name });
  const aws = {
    region: config.AWS_REGION,
    endpoint: config.AWS_ENDPOINT_URL,
    accessKeyId: config.AWS_ACCESS_KEY_ID,
    secretAccessKey: config.AWS_SECRET_ACCESS_KEY,
  };
  const sqs = createSqsClient({ ...aws, maxSockets: concurrency * 2 + 4 });
  const s3 = createS3Client(aws);
  const workerMetrics = createWorkerMetrics(metrics.registry, concurrency, poolName, [...jobTypes.keys()]);
  const queue = new SqsJobQueue(sqs, names, {
    weights: config.RECEIVE_WEIGHTS,
    observe: (operation, received) => {
      workerMetrics.sqsRequests.inc({ operation: operation === 'receive' && !received ? 'receive_empty' : operation });
      if (received) workerMetrics.sqsReceived.inc(received);
    },
    onMissingClassQueue: (missing) => logger.warn({ queue: missing }, 'no queue for this priority class or lane: its filters send that work elsewhere or nowhere; provision the pool'),
  });
  const depthOf = [...workQueues(names).map(({ queue: name }) => ({ queue: name, role: 'queue' as const })), { queue: names.deadLetterQueue, role: 'dlq' as const }];
  registerQueueDepth(metrics.registry, depthOf, async (name) => {
    const { queues, dlq } = await queue.resolve();
    const url = name === names.deadLetterQueue ? dlq : queues.find((q) => q.url.endsWith(`/${name}`))?.url;
    if (!url) throw new Error(`queue ${name} does not exist`);
    return readQueueDepth(sqs, url);
  });
  const workerId = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const outbox = createOutboxSignal({ pool, logger });
  const events = outbox.track(pool);
  const running = new RunningJobs();
  // The api announces a running job's cancellation and a pool's pause here: its run checks at once,
  // not at its next heartbeat. Each LISTEN holds its connection for good: their own, so the runs'
  // pool keeps all of its.
  const listenPool = createPool({ connectionString: config.DATABASE_URL, max: 2, applicationName: `${name}-listen` });
  const cancellations = startListener({
    pool: listenPool,
    channel: CANCEL_CHANNEL,
    logger,
    onWake: (jobId) => (jobId ? running.cancelRequested(jobId) : running.checkAll()),
  });
  const paused = new PoolPause();
  paused.onChange((now) => workerMetrics.paused.set({ pool: poolName }, now ? 1 : 0));
  const pauseWatch = await watchPoolPause({ db: pool, listenPool, pool: poolName, gate: paused, logger, refreshMs: config.POOL_PAUSE_REFRESH_MS });
  workerMetrics.paused.set({ pool: poolName }, paused.paused ? 1 : 0);
  const deps = {
    pauseFound: pauseWatch.refresh,
    db: pool,
    events,
    announceDue: outbox.due,
    running,
    runs: new RunBatcher(events, workerId, config.LEASE_SECONDS, poolName),
    queue,
    results: { s3, bucket: config.S3_BUCKET },
    metrics: workerMetrics,
    logger,
    settings: {
      workerId,
      pool: poolName,
      jobTypes,
      leaseSeconds: config.LEASE_SECONDS,
      heartbeatMs: config.HEARTBEAT_INTERVAL_MS,
      visibilitySeconds,
      inlineMaxBytes: config.RESULT_INLINE_MAX_BYTES,
      backoff: { baseSeconds: config.RETRY_BACKOFF_BASE_SECONDS, maxSeconds: config.RETRY_BACKOFF_MAX_SECONDS },
    },
  };
  const poller = new Poller(
    { queue, handle: (message, release) => handleMessage(deps, message, release), metrics: workerMetrics, logger, pause: paused },
    {
      concurrency,
      waitSeconds: config.RECEIVE_WAIT_SECONDS,
      drainMs: config.WORKER_DRAIN_MS,
      // Half the visibility timeout leaves the other half for the run to claim and heartbeat.
      maxHoldMs: (visibilitySeconds * 1000) / 2,
      maxHeld: config.WORKER_MAX_HELD_MESSAGES,
    },
  );

  // Stop hooks run last-registered first: the poller drains before its clients close.
  service
    .addReadinessCheck('postgres', () => pool.query('SELECT 1'))
    .addReadinessCheck('sqs', () => queue.ping())
    .onStop('postgres', () => pool.end())
    .onStop('cancel and pause listeners', async () => {
      await Promise.all([cancellations.stop(), pauseWatch.stop()]);
      await listenPool.end();
    })
    .onStop('outbox signal', async () => outbox.stop())
    .onStop('aws', async () => {
      sqs.destroy();
      s3.destroy();
    })
    // After the poller's drain and before the client closes: deletes still on their way.
    .onStop('acknowledgements', () => queue.settled())
    .onStop('poller', () => poller.stop());
  await service.start();
  poller.start();
  logger.info(
    { pool: poolName, paused: paused.paused, queue: names.queue, concurrency, jobTypes: [...jobTypes.values()].map((t) => `${t.name}@${t.version}`) },
    'polling',
  );
  return { logger, stop: () => service.stop() };
}

/** The types by name; two definitions of one name are a mistake to refuse at start, not at the first job. */
function registry(types: readonly AnyJobTypeDefinition[]): ReadonlyMap<string, JobTypeDefinition> {
  if (types.length === 0) throw new Error('runWorker: jobTypes is empty');
  const byName = new Map<string, JobTypeDefinition>();
  for (const type of types) {
    if (byName.has(type.name)) throw new Error(`runWorker: job type "${type.name}" is defined twice`);
    byName.set(type.name, type);
  }
  return byName;
}

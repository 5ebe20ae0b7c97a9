import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { bootstrap, createPool, createS3Client, createSqsClient, readQueueDepth, runMain } from '@conveyor/platform';
import { CANCEL_CHANNEL, createOutboxSignal, startListener, topology } from '@conveyor/jobs';
import { configSchema } from './config.js';
import { handleMessage } from './job-runner.js';
import { RunBatcher } from './run-batcher.js';
import { RunningJobs } from './running-jobs.js';
import { createWorkerMetrics, registerQueueDepth } from './metrics.js';
import { Poller } from './poller.js';
import { SqsJobQueue } from './queue.consumer.js';
import { S3ResultStore } from './results.store.js';

runMain('worker', async () => {
  const { config, logger, metrics, service } = bootstrap('worker', configSchema);
  const names = topology(config.CONVEYOR_NAMESPACE).queues.find((q) => q.pool.name === config.WORKER_POOL)!;
  const pool = createPool({ connectionString: config.DATABASE_URL, max: config.DATABASE_POOL_MAX, applicationName: 'worker' });
  const aws = {
    region: config.AWS_REGION,
    endpoint: config.AWS_ENDPOINT_URL,
    accessKeyId: config.AWS_ACCESS_KEY_ID,
    secretAccessKey: config.AWS_SECRET_ACCESS_KEY,
  };
  const sqs = createSqsClient({ ...aws, maxSockets: config.WORKER_CONCURRENCY * 2 + 4 });
  const s3 = createS3Client(aws);
  const queue = new SqsJobQueue(sqs, names);
  const workerMetrics = createWorkerMetrics(metrics.registry, config.WORKER_CONCURRENCY, names.pool.name);
  registerQueueDepth(metrics.registry, names, async (role) => {
    const urls = await queue.resolve();
    return readQueueDepth(sqs, role === 'queue' ? urls.queue : urls.dlq);
  });
  const workerId = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const outbox = createOutboxSignal({ pool, logger });
  const events = outbox.track(pool);
  const running = new RunningJobs();
  // The api announces a running job's cancellation here: its run checks at once, not at its next
  // heartbeat. LISTEN holds its connection for good: its own, so the runs' pool keeps all of its.
  const listenPool = createPool({ connectionString: config.DATABASE_URL, max: 1, applicationName: 'worker-listen' });
  const cancellations = startListener({
    pool: listenPool,
    channel: CANCEL_CHANNEL,
    logger,
    onWake: (jobId) => (jobId ? running.cancelRequested(jobId) : running.checkAll()),
  });
  const deps = {
    db: pool,
    events,
    announceDue: outbox.due,
    running,
    runs: new RunBatcher(events, workerId, config.LEASE_SECONDS),
    queue,
    results: new S3ResultStore(s3, config.S3_BUCKET),
    metrics: workerMetrics,
    logger,
    settings: {
      workerId,
      jobTypes: names.pool.jobTypes,
      leaseSeconds: config.LEASE_SECONDS,
      heartbeatMs: config.HEARTBEAT_INTERVAL_MS,
      visibilitySeconds: names.pool.visibilityTimeoutSeconds,
      inlineMaxBytes: config.RESULT_INLINE_MAX_BYTES,
      backoff: { baseSeconds: config.RETRY_BACKOFF_BASE_SECONDS, maxSeconds: config.RETRY_BACKOFF_MAX_SECONDS },
    },
  };
  const poller = new Poller(
    { queue, handle: (message, release) => handleMessage(deps, message, release), metrics: workerMetrics, logger },
    {
      concurrency: config.WORKER_CONCURRENCY,
      waitSeconds: config.RECEIVE_WAIT_SECONDS,
      drainMs: config.WORKER_DRAIN_MS,
      // Half the visibility timeout leaves the other half for the run to claim and heartbeat.
      maxHoldMs: (names.pool.visibilityTimeoutSeconds * 1000) / 2,
      maxHeld: config.WORKER_MAX_HELD_MESSAGES,
    },
  );

  // Stop hooks run last-registered first: the poller drains before its clients close.
  service
    .addReadinessCheck('postgres', () => pool.query('SELECT 1'))
    .addReadinessCheck('sqs', () => queue.ping())
    .onStop('postgres', () => pool.end())
    .onStop('cancel listener', async () => {
      await cancellations.stop();
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
  logger.info({ pool: names.pool.name, queue: names.queue, concurrency: config.WORKER_CONCURRENCY }, 'polling');
});

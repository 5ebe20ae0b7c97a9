import { hostname } from 'node:os';
import { bootstrap, createKafka, createPool, createS3Client, createSqsClient, pingKafka, runMain } from '@conveyor/platform';
import { createOutboxSignal, poolQueueNames, queueUrl, startOutboxRelay, topology } from '@conveyor/jobs';
import { createApp } from './app.js';
import { configSchema } from './config.js';
import { createJobEventsHandler, OutboxListener, startJobEventsConsumer } from './events/index.js';
import { JobWaiter } from './wait/job-waiter.js';
import { JobTypeRegistry } from './job-types/index.js';
import { scalingHandler, SCALING_PREFIX } from './pools/scaling.handler.js';
import { postgresScheduleStore } from './schedules/queries.js';
import { createSecretBox, createWebhookMetrics, startWebhookDispatcher, targetPolicy, WebhookSecrets } from './webhooks/index.js';

runMain('api', async () => {
  const { config, logger, metrics, service } = bootstrap('api', configSchema);
  const names = topology(config.CONVEYOR_NAMESPACE);
  const pool = createPool({ connectionString: config.DATABASE_URL, max: config.DATABASE_POOL_MAX, applicationName: 'api' });
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID ?? 'api', logger });
  const aws = {
    region: config.AWS_REGION,
    endpoint: config.AWS_ENDPOINT_URL,
    accessKeyId: config.AWS_ACCESS_KEY_ID,
    secretAccessKey: config.AWS_SECRET_ACCESS_KEY,
  };
  // Signing makes no request: a client for the public endpoint only shapes the URLs clients get.
  const signingS3 = createS3Client(config.S3_PUBLIC_ENDPOINT ? { ...aws, endpoint: config.S3_PUBLIC_ENDPOINT } : aws);
  // One LISTEN connection for the event streams and the submits that wait (Prefer: wait).
  const jobEvents = new OutboxListener({ pool, logger, safetyPollMs: config.SSE_SAFETY_POLL_MS });
  const waiter = new JobWaiter({ db: pool, events: jobEvents, maxWaiters: config.PREFER_WAIT_MAX_WAITERS, logger, registry: metrics.registry });
  const eventsHandler = createJobEventsHandler({
    listener: jobEvents,
    pool,
    logger,
    registry: metrics.registry,
    maxStreamsPerTenant: config.SSE_MAX_STREAMS_PER_TENANT,
    maxStreams: config.SSE_MAX_STREAMS,
    heartbeatMs: config.SSE_HEARTBEAT_MS,
    safetyPollMs: config.SSE_SAFETY_POLL_MS,
  });
  // The relay in this process is woken directly, the others and the event streams by a NOTIFY.
  // Requests, the only writers here, are served from service.start(), once the relay runs.
  const outbox = createOutboxSignal({ pool, logger, local: () => relay.wake() });
  const webhookSecrets = new WebhookSecrets(pool, createSecretBox(config.WEBHOOK_SECRETS_KEY));
  const webhookPolicy = targetPolicy(config.WEBHOOK_ALLOWED_HOSTS, config.WEBHOOK_ALLOWED_CIDRS);
  const webhookMetrics = createWebhookMetrics(metrics.registry);
  // Loaded before the first request: a submit is never refused for a type the cache has not read yet.
  const jobTypes = new JobTypeRegistry({ pool, logger: logger.child({ component: 'job-types' }), refreshMs: config.JOB_TYPES_REFRESH_MS });
  await jobTypes.start();
  // The Kubernetes client is large: loaded only where schedules are custom resources.
  const schedules =
    config.SCHEDULES_SOURCE === 'kubernetes'
      ? await import('./schedules/kubernetes.store.js').then(({ kubernetesScheduleStore, loadKubeConfig }) =>
          kubernetesScheduleStore({ kc: loadKubeConfig(), namespace: config.SCHEDULES_NAMESPACE, defaultTenant: config.SCHEDULES_TENANT }),
        )
      : postgresScheduleStore(pool);
  const dlqSqs = createSqsClient(aws);
  const app = createApp({
    pool,
    outbox,
    s3: signingS3,
    bucket: config.S3_BUCKET,
    resultUrlTtlSeconds: config.RESULT_URL_TTL_SECONDS,
    internalToken: config.INTERNAL_TOKEN,
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
    runAtWindow: { maxDaysBehind: config.RUN_AT_MAX_DAYS_BEHIND, maxDaysAhead: config.RUN_AT_MAX_DAYS_AHEAD },
    pointsMaxGrant: config.POINTS_MAX_GRANT,
    logger,
    metrics,
    eventsHandler,
    feedHandler: eventsHandler.feed,
    webhookSecrets,
    webhookPolicy,
    // The dispatcher starts below; requests, and so these calls, only come after service.start().
    webhookLog: { circuit: (tenant, destination) => webhooks.circuit(tenant, destination), wake: () => webhooks.wake(), instance: `${hostname()}/${process.pid}` },
    deadLetters: { sqs: dlqSqs, queues: names.queues, namespace: config.CONVEYOR_NAMESPACE },
    jobTypes,
    poolQueueExists: async (name) => (await queueUrl(dlqSqs, poolQueueNames(config.CONVEYOR_NAMESPACE, name).queue)) !== undefined,
    waiter,
    schedules,
    poolHistory: config.PROMETHEUS_URL ? { url: config.PROMETHEUS_URL, selector: config.PROMETHEUS_SELECTOR } : undefined,
    overflowAfter: config.TENANT_OVERFLOW_AFTER,
  });
  // Every stored job reaches Kafka through the outbox, whatever happens to this process.
  const relay = await startOutboxRelay({
    pool,
    kafka,
    topology: names,
    logger,
    registry: metrics.registry,
    batchSize: config.OUTBOX_BATCH_SIZE,
    pollIntervalMs: config.OUTBOX_POLL_INTERVAL_MS,
  });
  const webhooks = startWebhookDispatcher({
    pool,
    secrets: webhookSecrets,
    policy: webhookPolicy,
    logger: logger.child({ component: 'webhook-dispatcher' }),
    metrics: webhookMetrics,
    timeoutMs: config.WEBHOOK_TIMEOUT_MS,
    maxAttempts: config.WEBHOOK_MAX_ATTEMPTS,
    maxInFlight: config.WEBHOOK_MAX_IN_FLIGHT,
  });
  const eventsConsumer = await startJobEventsConsumer({
    kafka,
    pool,
    topology: names,
    logger,
    registry: metrics.registry,
    publicBaseUrl: config.PUBLIC_BASE_URL,
    fetchWaitMs: config.EVENTS_FETCH_WAIT_MS,
    webhookMetrics,
    onDeliveriesStored: () => webhooks.wake(),
  });
  service
    .setHandler(app)
    // KEDA's metrics-api trigger asks here how many workers each pool needs (pools/scaling.ts).
    .addOpsRoute(SCALING_PREFIX, scalingHandler({ pool, jobTypes, schedules, logger }))
    // Ready on Postgres once the job types were read from it too (a migrated schema, not just a connection).
    .addReadinessCheck('postgres', async () => {
      await pool.query('SELECT 1');
      jobTypes.assertLoaded();
    })
    .addReadinessCheck('kafka', () => pingKafka(kafka))
    .onDrainStart('sse streams', () => eventsHandler.close())
    // Waiting submits are answered 202 at once: their clients follow the job as without the preference.
    .onDrainStart('waiting submits', async () => waiter.close())
    .onStop('postgres', () => pool.end())
    // Stops before the pool ends (last registered, first stopped): its LISTEN holds a pooled connection.
    .onStop('job types', () => jobTypes.stop())
    .onStop('job events listener', () => jobEvents.close())
    .onStop('s3', async () => signingS3.destroy())
    .onStop('outbox relay', () => relay.stop())
    .onStop('outbox signal', async () => outbox.stop())
    .onStop('webhook dispatcher', () => webhooks.stop())
    .onStop('job events consumer', () => eventsConsumer.stop());
  await service.start();
});

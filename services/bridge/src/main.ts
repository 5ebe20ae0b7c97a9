import { bootstrap, createKafka, createSnsClient, pingKafka, runMain } from '@conveyor/platform';
import { topology } from '@conveyor/jobs';
import { configSchema } from './config.js';
import { bridgeMetrics } from './metrics.js';
import { snsPublisher } from './sns.publisher.js';
import { publishChunk } from './publish.js';
import { snsBreaker } from './breaker.js';
import { rejectedEventsProducer } from './events.producer.js';
import { startBridgeConsumer } from './bridge.consumer.js';
import { startLagMonitor } from './lag.js';

runMain('bridge', async () => {
  const { config, logger, metrics: serviceMetrics, service } = bootstrap('bridge', configSchema);
  const topo = topology(config.CONVEYOR_NAMESPACE);
  const metrics = bridgeMetrics(serviceMetrics.registry);
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID ?? 'bridge', logger });
  const sns = createSnsClient({
    region: config.AWS_REGION,
    endpoint: config.AWS_ENDPOINT_URL,
    accessKeyId: config.AWS_ACCESS_KEY_ID,
    secretAccessKey: config.AWS_SECRET_ACCESS_KEY,
  });
  const publisher = snsPublisher(sns, topo.snsTopic);
  const timedPublish: typeof publisher.publishBatch = async (entries) => {
    const end = metrics.snsDuration.startTimer();
    try {
      const failed = await publisher.publishBatch(entries);
      end({ outcome: failed.length === 0 ? 'ok' : 'partial' });
      return failed;
    } catch (error) {
      end({ outcome: 'error' });
      throw error;
    }
  };
  const retry = { attempts: config.SNS_RETRY_ATTEMPTS, baseMs: config.SNS_RETRY_BASE_MS, maxMs: config.SNS_RETRY_MAX_MS };
  const breaker = snsBreaker(
    (entries) => publishChunk(entries, timedPublish, retry),
    {
      errorThresholdPercentage: config.BREAKER_ERROR_PERCENT,
      volumeThreshold: config.BREAKER_VOLUME_THRESHOLD,
      resetTimeout: config.BREAKER_RESET_MS,
      timeout: config.BREAKER_TIMEOUT_MS,
      rollingCountTimeout: config.BREAKER_ROLLING_WINDOW_MS,
    },
    metrics,
    logger,
  );
  const events = rejectedEventsProducer(kafka, topo.topics.events);

  service
    .addReadinessCheck('kafka', () => pingKafka(kafka))
    .addReadinessCheck('sns', () => publisher.check())
    .onStop('sns', async () => {
      breaker.shutdown();
      sns.destroy();
    })
    .onStop('events producer', () => events.disconnect());
  await service.start();

  // One consumer per lane (docs/design.md, "Fairness between tenants"), each its own group and
  // fetch loop: a burst's backlog on the overflow topic never holds up the regular topic's records.
  const lanes = [
    { topic: topo.topics.requested, groupId: topo.consumerGroups.bridge },
    { topic: topo.topics.requestedOverflow, groupId: topo.consumerGroups.bridgeOverflow },
  ];
  for (const { topic, groupId } of lanes) {
    const consumer = startBridgeConsumer({
      kafka,
      topic,
      groupId,
      snsTopic: topo.snsTopic,
      breaker,
      events,
      metrics,
      logger,
      batchSize: config.BRIDGE_BATCH_SIZE,
      publishConcurrency: config.BRIDGE_PUBLISH_CONCURRENCY,
      partitionsConcurrency: config.BRIDGE_PARTITIONS_CONCURRENCY,
      failurePauseMs: config.BRIDGE_FAILURE_PAUSE_MS,
      sessionTimeoutMs: config.BRIDGE_SESSION_TIMEOUT_MS,
      commitIntervalMs: config.BRIDGE_COMMIT_INTERVAL_MS,
    });
    service.onStop(`consumer of ${topic}`, () => consumer.stop());
    if (config.LAG_INTERVAL_MS > 0) {
      const lag = startLagMonitor(kafka, topic, groupId, config.LAG_INTERVAL_MS, metrics, logger);
      service.onStop(`lag monitor of ${topic}`, () => lag.stop());
    }
  }
});

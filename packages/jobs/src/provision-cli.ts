#!/usr/bin/env node
/** Provisions topics, queues and the bucket for CONVEYOR_NAMESPACE: `make dev` and the Helm hook run this. */
import { z } from 'zod';
import {
  awsEnv,
  createKafka,
  createLogger,
  createS3Client,
  createSnsClient,
  createSqsClient,
  env,
  exitOnConfigError,
  kafkaEnv,
  loadConfig,
} from '@conveyor/platform';
import { provision } from './provision.js';
import { topology, topologyEnv } from './topology.js';

const schema = z.object({
  ...kafkaEnv,
  ...awsEnv,
  ...topologyEnv,
  S3_BUCKET: z.string().min(3).max(63).default('conveyor-results'),
  KAFKA_PARTITIONS: env.int(6, 1),
  KAFKA_REPLICATION_FACTOR: env.int(1, 1),
  LOG_LEVEL: env.logLevel(),
});

let config: z.infer<typeof schema>;
try {
  config = loadConfig(schema);
} catch (error) {
  exitOnConfigError(error, 'provision');
}
const logger = createLogger({ service: 'provision', level: config.LOG_LEVEL });
const aws = {
  region: config.AWS_REGION,
  endpoint: config.AWS_ENDPOINT_URL,
  accessKeyId: config.AWS_ACCESS_KEY_ID,
  secretAccessKey: config.AWS_SECRET_ACCESS_KEY,
};
const [sns, sqs, s3] = [createSnsClient(aws), createSqsClient(aws), createS3Client(aws)];
try {
  await provision({
    kafka: createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID ?? 'provision', logger }),
    sns,
    sqs,
    s3,
    topology: topology(config.CONVEYOR_NAMESPACE),
    bucket: config.S3_BUCKET,
    partitions: config.KAFKA_PARTITIONS,
    replicationFactor: config.KAFKA_REPLICATION_FACTOR,
    logger,
  });
} catch (error) {
  logger.fatal({ err: error }, 'provisioning failed');
  process.exitCode = 1;
} finally {
  for (const client of [sns, sqs, s3]) client.destroy();
  logger.flush();
}

/** Where the real infrastructure started by scripts/infra listens; overridable for other setups. */
export const infra = {
  postgresUrl: process.env.TEST_DATABASE_URL ?? 'postgres://conveyor:conveyor@127.0.0.1:55432/conveyor',
  kafkaBrokers: (process.env.TEST_KAFKA_BROKERS ?? '127.0.0.1:19092').split(','),
  awsEndpoint: process.env.TEST_AWS_ENDPOINT ?? 'http://127.0.0.1:4566',
  awsRegion: 'us-east-1',
  prometheusUrl: process.env.TEST_PROMETHEUS_URL ?? 'http://127.0.0.1:19090',
  zipkinUrl: process.env.TEST_ZIPKIN_URL ?? 'http://127.0.0.1:19411',
};

export const awsOptions = {
  region: infra.awsRegion,
  endpoint: infra.awsEndpoint,
  accessKeyId: 'test',
  secretAccessKey: 'test',
};

/** A name no other test (or earlier run) uses, for topics, queues, groups and databases. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
}

import { bootstrap, createKafka, createSnsClient, pingKafka, pingSns, runMain } from '@conveyor/platform';
import { configSchema } from './config.js';

runMain('bridge', async () => {
  const { config, logger, service } = bootstrap('bridge', configSchema);
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID ?? 'bridge', logger });
  const sns = createSnsClient({
    region: config.AWS_REGION,
    endpoint: config.AWS_ENDPOINT_URL,
    accessKeyId: config.AWS_ACCESS_KEY_ID,
    secretAccessKey: config.AWS_SECRET_ACCESS_KEY,
  });
  service
    .addReadinessCheck('kafka', () => pingKafka(kafka))
    .addReadinessCheck('sns', () => pingSns(sns))
    .onStop('sns', async () => sns.destroy());
  await service.start();
});

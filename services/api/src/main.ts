import { bootstrap, createKafka, createPool, pingKafka, runMain } from '@conveyor/platform';
import { configSchema } from './config.js';

runMain('api', async () => {
  const { config, logger, service } = bootstrap('api', configSchema);
  const pool = createPool({ connectionString: config.DATABASE_URL, max: config.DATABASE_POOL_MAX, applicationName: 'api' });
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID ?? 'api', logger });
  service
    .addReadinessCheck('postgres', () => pool.query('SELECT 1'))
    .addReadinessCheck('kafka', () => pingKafka(kafka))
    .onStop('postgres', () => pool.end());
  await service.start();
});

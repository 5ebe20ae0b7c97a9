import { bootstrap, createKafka, createPool, pingKafka, runMain } from '@conveyor/platform';
import { configSchema } from './config.js';

runMain('scheduler', async () => {
  const { config, logger, service } = bootstrap('scheduler', configSchema);
  const pool = createPool({ connectionString: config.DATABASE_URL, max: config.DATABASE_POOL_MAX, applicationName: 'scheduler' });
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID ?? 'scheduler', logger });
  service
    .addReadinessCheck('postgres', () => pool.query('SELECT 1'))
    .addReadinessCheck('kafka', () => pingKafka(kafka))
    .onStop('postgres', () => pool.end());
  await service.start();
});

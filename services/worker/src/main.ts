import { bootstrap, createPool, createSqsClient, pingSqs, runMain } from '@conveyor/platform';
import { configSchema } from './config.js';

runMain('worker', async () => {
  const { config, service } = bootstrap('worker', configSchema);
  const pool = createPool({ connectionString: config.DATABASE_URL, max: config.DATABASE_POOL_MAX, applicationName: 'worker' });
  const sqs = createSqsClient({
    region: config.AWS_REGION,
    endpoint: config.AWS_ENDPOINT_URL,
    accessKeyId: config.AWS_ACCESS_KEY_ID,
    secretAccessKey: config.AWS_SECRET_ACCESS_KEY,
  });
  service
    .addReadinessCheck('postgres', () => pool.query('SELECT 1'))
    .addReadinessCheck('sqs', () => pingSqs(sqs))
    .onStop('postgres', () => pool.end())
    .onStop('sqs', async () => sqs.destroy());
  await service.start();
});

// Test-only: runs an outbox relay that freezes right after Kafka acknowledged its first batch and
// before the batch is marked published, so the parent can kill -9 it inside that window.
import process from 'node:process';
import { Registry, createKafka, createLogger, createPool } from '@conveyor/platform';
import { startOutboxRelay, topology } from '@conveyor/jobs';

const logger = createLogger({ service: 'outbox-crash-child', level: 'warn' });
const pool = createPool({ connectionString: process.env.DATABASE_URL, max: 3 });
await startOutboxRelay({
  pool,
  kafka: createKafka({ brokers: process.env.KAFKA_BROKERS.split(','), clientId: 'outbox-crash-child', logger }),
  topology: topology(process.env.CONVEYOR_NAMESPACE),
  logger,
  registry: new Registry(),
  batchSize: Number(process.env.BATCH_SIZE),
  pollIntervalMs: 100,
  afterProduce: async (batch) => {
    process.stdout.write(`${JSON.stringify({ produced: batch })}\n`);
    await new Promise(() => undefined);
  },
});

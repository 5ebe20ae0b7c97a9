import { createRequire } from 'node:module';
import { Kafka, logLevel, type LogEntry } from 'kafkajs';
import type { Logger } from 'pino';

export { Kafka };
export type { Producer, Consumer, Admin, EachBatchPayload, IHeaders, KafkaMessage } from 'kafkajs';

export interface KafkaOptions {
  brokers: string[];
  clientId: string;
  logger: Logger;
}

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

interface RequestQueueClass {
  prototype: { pending: unknown[]; scheduleCheckPendingRequests(this: { pending: unknown[] }): void };
}
let idleConnectionsQuiet = false;

/**
 * kafkajs 2.2.4 (its last release) re-arms a 1 ms timer for ever once a broker connection has
 * answered its first request, whether or not anything waits to be sent (tulios/kafkajs#1556, #1704,
 * unmerged fix #1667): about a thousand wake-ups a second per connection, idle or busy, in every
 * process that talks to Kafka. With nothing queued there is nothing to check; a request queued later
 * (throttled or over the in-flight limit) schedules its own check, and each answer checks again.
 */
export function quietIdleKafkaConnections(): void {
  if (idleConnectionsQuiet) return;
  idleConnectionsQuiet = true;
  const RequestQueue = createRequire(import.meta.url)('kafkajs/src/network/requestQueue/index.js') as RequestQueueClass;
  const schedule = RequestQueue.prototype.scheduleCheckPendingRequests;
  RequestQueue.prototype.scheduleCheckPendingRequests = function (this: { pending: unknown[] }) {
    if (this.pending.length > 0) schedule.call(this);
  };
}

/** A kafkajs client whose own logs go through the service logger as JSON. */
export function createKafka({ brokers, clientId, logger }: KafkaOptions): Kafka {
  quietIdleKafkaConnections();
  const kafkaLogger = logger.child({ component: 'kafkajs' });
  return new Kafka({
    clientId,
    brokers,
    connectionTimeout: 3_000,
    requestTimeout: 30_000,
    retry: { initialRetryTime: 300, retries: 8, maxRetryTime: 30_000 },
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log }: LogEntry) => {
        const { message, ...rest } = log;
        kafkaLogger[LEVELS[level] ?? 'info'](rest, message);
      },
  });
}

/** Readiness: the cluster answers a metadata request. */
export async function pingKafka(kafka: Kafka): Promise<void> {
  const admin = kafka.admin({ retry: { retries: 0 } });
  try {
    await admin.connect();
    await admin.describeCluster();
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

import { Counter, Gauge, Histogram, LATENCY_BUCKETS, type Registry } from '@conveyor/platform';

export const BREAKER_STATE = { closed: 0, halfOpen: 1, open: 2 } as const;

export function bridgeMetrics(registry: Registry) {
  return {
    consumed: new Counter({
      name: 'conveyor_bridge_records_consumed_total',
      help: 'Kafka records handled (published or rejected).',
      registers: [registry],
    }),
    published: new Counter({
      name: 'conveyor_bridge_records_published_total',
      help: 'Records SNS accepted.',
      registers: [registry],
    }),
    rejected: new Counter({
      name: 'conveyor_bridge_records_rejected_total',
      help: 'Records set aside as malformed or refused by SNS, by reason.',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    snsDuration: new Histogram({
      name: 'conveyor_bridge_sns_publish_duration_seconds',
      help: 'Duration of SNS PublishBatch calls (each attempt), by outcome.',
      labelNames: ['outcome'] as const,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    breakerState: new Gauge({
      name: 'conveyor_bridge_breaker_state',
      help: 'SNS circuit breaker: 0 closed, 1 half-open, 2 open.',
      registers: [registry],
    }),
    paused: new Gauge({
      name: 'conveyor_bridge_consumer_paused',
      help: '1 while consumption is paused because SNS is failing.',
      registers: [registry],
    }),
    recordLatency: new Histogram({
      name: 'conveyor_bridge_record_latency_seconds',
      help: 'From a record being appended to Kafka to SNS accepting it (the hop\'s whole latency).',
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    lag: new Gauge({
      name: 'conveyor_bridge_consumer_lag',
      help: 'Records behind the log end, by consumer group, topic and partition (measured periodically).',
      labelNames: ['group', 'topic', 'partition'] as const,
      registers: [registry],
    }),
  };
}

export type BridgeMetrics = ReturnType<typeof bridgeMetrics>;

import { Counter, Gauge, Histogram, LATENCY_BUCKETS, type Registry } from '@conveyor/platform';

export interface OutboxMetrics {
  published: Counter<'topic'>;
  batchDuration: Histogram;
  errors: Counter;
}

/** Reuses a metric already registered, so two relays in one process (tests, replicas) share it. */
function registered<T>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}

export function outboxMetrics(registry: Registry, backlog: () => Promise<{ jobs: number; job_events: number }>): OutboxMetrics {
  registered(
    registry,
    'conveyor_outbox_backlog',
    () =>
      new Gauge({
        name: 'conveyor_outbox_backlog',
        help: 'Rows stored but not yet published to Kafka, by table.',
        labelNames: ['table'] as const,
        registers: [registry],
        async collect() {
          // A scrape must not fail because the database is briefly away.
          const counts = await backlog().catch(() => undefined);
          if (!counts) return;
          this.set({ table: 'jobs' }, counts.jobs);
          this.set({ table: 'job_events' }, counts.job_events);
        },
      }),
  );
  return {
    published: registered(
      registry,
      'conveyor_outbox_published_total',
      () =>
        new Counter({
          name: 'conveyor_outbox_published_total',
          help: 'Outbox rows published to Kafka, by topic.',
          labelNames: ['topic'] as const,
          registers: [registry],
        }),
    ),
    batchDuration: registered(
      registry,
      'conveyor_outbox_publish_batch_duration_seconds',
      () =>
        new Histogram({
          name: 'conveyor_outbox_publish_batch_duration_seconds',
          help: 'Time to claim, produce and mark one outbox batch.',
          buckets: LATENCY_BUCKETS,
          registers: [registry],
        }),
    ),
    errors: registered(
      registry,
      'conveyor_outbox_errors_total',
      () =>
        new Counter({
          name: 'conveyor_outbox_errors_total',
          help: 'Failed outbox drains (the rows stay unpublished and are retried).',
          registers: [registry],
        }),
    ),
  };
}

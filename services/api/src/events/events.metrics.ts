import { Counter, Histogram, LATENCY_BUCKETS, type Registry } from '@conveyor/platform';

export interface EventsConsumerMetrics {
  consumed: Counter<'type'>;
  malformed: Counter;
  notificationsWritten: Counter;
  webhooksDelivered: Counter;
  webhooksFailed: Counter<'reason'>;
  webhooksRetried: Counter;
  deliverySeconds: Histogram;
}

export function createEventsConsumerMetrics(registry?: Registry): EventsConsumerMetrics {
  const registers = registry ? [registry] : [];
  return {
    consumed: new Counter({
      name: 'conveyor_job_events_consumed_total',
      help: 'jobs.events records handled by the notification consumer, by event type.',
      labelNames: ['type'] as const,
      registers,
    }),
    malformed: new Counter({
      name: 'conveyor_job_events_malformed_total',
      help: 'jobs.events records skipped because their value was not a valid event.',
      registers,
    }),
    notificationsWritten: new Counter({
      name: 'conveyor_notifications_written_total',
      help: 'Job-completion notifications inserted (redeliveries that changed nothing are not counted).',
      registers,
    }),
    webhooksDelivered: new Counter({
      name: 'conveyor_webhooks_delivered_total',
      help: 'Webhooks a receiver accepted with a 2xx.',
      registers,
    }),
    webhooksFailed: new Counter({
      name: 'conveyor_webhooks_failed_total',
      help: 'Webhooks given up on: rejected permanently, out of attempts or too old.',
      labelNames: ['reason'] as const,
      registers,
    }),
    webhooksRetried: new Counter({
      name: 'conveyor_webhooks_retried_total',
      help: 'Webhook attempts that failed and were scheduled again.',
      registers,
    }),
    deliverySeconds: new Histogram({
      name: 'conveyor_webhook_delivery_seconds',
      help: 'From handing a webhook to the sender until a receiver accepted it, retries included.',
      buckets: [...LATENCY_BUCKETS, 60, 300],
      registers,
    }),
  };
}

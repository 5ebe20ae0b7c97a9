import { Counter, Histogram, LATENCY_BUCKETS, type Registry } from '@conveyor/platform';

export interface WebhookMetrics {
  stored: Counter;
  delivered: Counter;
  failed: Counter<'reason'>;
  retried: Counter;
  deliverySeconds: Histogram;
}

export function createWebhookMetrics(registry?: Registry): WebhookMetrics {
  const registers = registry ? [registry] : [];
  return {
    stored: new Counter({
      name: 'conveyor_webhooks_stored_total',
      help: 'Webhook deliveries stored for sending (one per terminal event of a job with a callbackUrl).',
      registers,
    }),
    delivered: new Counter({
      name: 'conveyor_webhooks_delivered_total',
      help: 'Webhooks a receiver accepted with a 2xx.',
      registers,
    }),
    failed: new Counter({
      name: 'conveyor_webhooks_failed_total',
      help: 'Webhooks given up on, by reason: rejected (3xx/4xx), blocked (target not allowed), attempts, expired.',
      labelNames: ['reason'] as const,
      registers,
    }),
    retried: new Counter({
      name: 'conveyor_webhooks_retried_total',
      help: 'Webhook attempts that failed and were scheduled again.',
      registers,
    }),
    deliverySeconds: new Histogram({
      name: 'conveyor_webhook_delivery_seconds',
      help: 'From storing a webhook delivery until a receiver accepted it, retries included.',
      buckets: [...LATENCY_BUCKETS, 60, 300],
      registers,
    }),
  };
}

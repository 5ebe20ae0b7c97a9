import { Counter, type Registry } from '@conveyor/platform';

export interface EventsConsumerMetrics {
  consumed: Counter<'type'>;
  malformed: Counter;
  notificationsWritten: Counter;
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
  };
}

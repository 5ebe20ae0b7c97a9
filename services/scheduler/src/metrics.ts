import { Counter, Gauge, Histogram, type Registry } from '@conveyor/platform';

/** Everything the scheduler measures, registered once on the service's registry. */
export function createSchedulerMetrics(registry: Registry) {
  return {
    dispatched: new Counter({
      name: 'conveyor_scheduler_dispatched_total',
      help: 'Delayed jobs moved from scheduled to queued when due.',
      registers: [registry],
    }),
    lateness: new Histogram({
      name: 'conveyor_scheduler_dispatch_lateness_seconds',
      help: 'Dispatch time minus run_at of delayed jobs, by the database clock.',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30],
      registers: [registry],
    }),
    loopErrors: new Counter({
      name: 'conveyor_scheduler_loop_errors_total',
      help: 'Failed iterations of a background loop (it retries).',
      labelNames: ['loop'] as const,
      registers: [registry],
    }),
    redrives: new Counter({
      name: 'conveyor_scheduler_redrives_total',
      help: 'Jobs handed back to the queue by the reconciler, by reason.',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    staleFinished: new Counter({
      name: 'conveyor_scheduler_stale_jobs_finished_total',
      help: 'Jobs whose worker vanished and that were finished instead of re-driven (cancel requested, attempts exhausted).',
      labelNames: ['status'] as const,
      registers: [registry],
    }),
    unpublished: new Gauge({
      name: 'conveyor_scheduler_unpublished_jobs',
      help: 'Queued jobs not yet published by the outbox relay (backlog).',
      registers: [registry],
    }),
    scheduleFires: new Counter({
      name: 'conveyor_scheduler_schedule_fires_total',
      help: 'JobSchedule fire decisions, by outcome (fired, replayed, skipped, missed).',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    schedulesInvalid: new Gauge({
      name: 'conveyor_scheduler_schedules_invalid',
      help: 'JobSchedules currently rejected with InvalidSpec.',
      registers: [registry],
    }),
  };
}

export type SchedulerMetrics = ReturnType<typeof createSchedulerMetrics>;

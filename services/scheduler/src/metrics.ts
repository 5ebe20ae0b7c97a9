import { Counter, Gauge, tracedHistogram, type Registry } from '@conveyor/platform';
import { poolOf } from '@conveyor/jobs';
import type { TypeBacklog } from './backlog.repo.js';

/** Everything the scheduler measures, registered once on the service's registry. */
export function createSchedulerMetrics(registry: Registry) {
  const metrics = {
    dispatched: new Counter({
      name: 'conveyor_scheduler_dispatched_total',
      help: 'Delayed jobs moved from scheduled to queued when due (or within DISPATCH_LEAD_MS of it).',
      registers: [registry],
    }),
    lateness: tracedHistogram({
      labelNames: [] as const,
      name: 'conveyor_scheduler_dispatch_lateness_seconds',
      help: 'How far past run_at delayed jobs were dispatched, by the database clock (0 when dispatched ahead of it).',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30],
      registers: [registry],
    }),
    loopErrors: new Counter({
      name: 'conveyor_scheduler_loop_errors_total',
      help: 'Failed iterations of a background loop (it retries).',
      labelNames: ['loop'] as const,
      registers: [registry],
    }),
    isLeader: new Gauge({
      name: 'conveyor_scheduler_is_leader',
      help: '1 while this replica leads (fires cron schedules, reconciles), else 0.',
      registers: [registry],
    }),
    queueExpected: new Gauge({
      name: 'conveyor_scheduler_queue_expected_messages',
      help: 'Waiting jobs handed to SNS long enough ago that their pool queue must hold a message for each (leader only).',
      labelNames: ['pool'] as const,
      registers: [registry],
    }),
    queueMissing: new Gauge({
      name: 'conveyor_scheduler_queue_missing_messages',
      help: 'How many fewer messages a pool queue holds than it must: lost messages (leader only).',
      labelNames: ['pool'] as const,
      registers: [registry],
    }),
    queueScans: new Counter({
      name: 'conveyor_scheduler_queue_scans_total',
      help: 'Reads of a whole pool queue to find which messages are lost, by outcome (complete, incomplete).',
      labelNames: ['pool', 'outcome'] as const,
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
  // Every reason from the start, at 0: a rate over a series that appears only at its first
  // increment misses that increment, and dashboards would show a gap instead of none.
  for (const reason of ['heartbeat_expired', 'message_lost']) metrics.redrives.inc({ reason }, 0);
  return metrics;
}

export type SchedulerMetrics = ReturnType<typeof createSchedulerMetrics>;

/**
 * Waiting jobs and the age of the oldest, by pool and type, read from Postgres at scrape time.
 * Series of types with nothing waiting are reported as 0 rather than vanishing, so alerts see
 * a backlog drain instead of a gap.
 */
export function registerJobBacklog(registry: Registry, read: () => Promise<TypeBacklog[]>) {
  let last: TypeBacklog[] = [];
  let inFlight: Promise<TypeBacklog[]> | undefined;
  // Both gauges collect in parallel during one scrape: they share one query.
  const refresh = () =>
    (inFlight ??= read()
      .then((rows) => (last = rows), () => last)
      .finally(() => {
        inFlight = undefined;
      }));
  const labels = (type: string) => ({ pool: poolOf(type)?.name ?? 'unknown', type });
  const seen = new Set<string>();
  const waiting = new Gauge({
    name: 'conveyor_jobs_waiting',
    help: 'Jobs queued or retrying (waiting for a worker), by worker pool and job type; from Postgres.',
    labelNames: ['pool', 'type'] as const,
    registers: [registry],
    async collect() {
      const rows = await refresh();
      for (const type of seen) this.set(labels(type), 0);
      for (const row of rows) {
        seen.add(row.type);
        this.set(labels(row.type), row.waiting);
      }
    },
  });
  const oldest = new Gauge({
    name: 'conveyor_jobs_oldest_waiting_seconds',
    help: 'Age of the oldest queued job since it became due, by worker pool and job type; from Postgres.',
    labelNames: ['pool', 'type'] as const,
    registers: [registry],
    async collect() {
      const rows = await refresh();
      for (const type of seen) this.set(labels(type), 0);
      for (const row of rows) this.set(labels(row.type), row.oldestSeconds);
    },
  });
  return { waiting, oldest };
}

import { Counter, Gauge, tracedHistogram, type Registry } from '@conveyor/platform';
import { poolOf } from '@conveyor/jobs';
import type { TypeBacklog } from './backlog.repo.js';
import { boundTenants, type TenantJobs } from './tenants.repo.js';

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

/**
 * Per-tenant gauges from Postgres, read at scrape time: jobs queued and running, waiting jobs by
 * the reason a limit or a pause held them (jobs.waiting_reason), and the quota limits each stands
 * at. The tenant label is bounded (boundTenants: the top N, then `other`); series of tenants that
 * left the top N go at once (reset on every scrape), so the label set never grows with history.
 */
/** The waiting reasons a worker records (jobs.waiting_reason). */
const THROTTLE_REASONS = ['tenant_concurrency_limit', 'key_concurrency_limit', 'rate_limited', 'pool_paused', 'type_paused', 'tenant_paused'] as const;

export function registerTenantJobs(registry: Registry, read: () => Promise<TenantJobs[]>, topN: number) {
  let inFlight: Promise<TenantJobs[]> | undefined;
  let last: TenantJobs[] = [];
  const refresh = () =>
    (inFlight ??= read()
      .then((rows) => (last = boundTenants(rows, topN)), () => last)
      .finally(() => {
        inFlight = undefined;
      }));
  const jobs = new Gauge({
    name: 'conveyor_tenant_jobs',
    help: `Unfinished jobs by tenant (the top ${topN} by load, the rest as "other") and state: queued (scheduled, queued, retrying) or running; from Postgres.`,
    labelNames: ['tenant', 'state'] as const,
    registers: [registry],
    async collect() {
      const rows = await refresh();
      this.reset();
      for (const t of rows) {
        this.set({ tenant: t.tenant, state: 'queued' }, t.queued);
        this.set({ tenant: t.tenant, state: 'running' }, t.running);
      }
    },
  });
  const throttled = new Gauge({
    name: 'conveyor_tenant_jobs_throttled',
    help: 'Waiting jobs a limit or a pause held at their last delivery, by tenant (bounded) and reason (tenant_concurrency_limit, key_concurrency_limit, rate_limited, pool_paused, type_paused, tenant_paused); from Postgres.',
    labelNames: ['tenant', 'reason'] as const,
    registers: [registry],
    async collect() {
      const rows = await refresh();
      this.reset();
      // Every reason of every named tenant, zeros included: a panel or rule sees the series before the first hold.
      for (const t of rows) for (const reason of THROTTLE_REASONS) this.set({ tenant: t.tenant, reason }, t.throttled[reason] ?? 0);
    },
  });
  const atLimit = new Gauge({
    name: 'conveyor_tenant_at_limit',
    help: 'Tenants standing at a quota limit (maxRunning, maxQueued, submitsPerMinute): 1 for a named tenant, the count for "other"; 0 for a tenant with a quota within it.',
    labelNames: ['tenant', 'limit'] as const,
    registers: [registry],
    async collect() {
      const rows = await refresh();
      this.reset();
      for (const t of rows) for (const [limit, n] of Object.entries(t.atLimit)) this.set({ tenant: t.tenant, limit }, n);
    },
  });
  return { jobs, throttled, atLimit };
}

import { Counter, Gauge, tracedHistogram, type QueueDepth, type Registry } from '@conveyor/platform';

/** Run durations reach minutes (reports, sleeps); enqueue-to-start spans milliseconds to minutes. */
const RUN_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900];
const WAIT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

const LATENESS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30];

const END_TO_END_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600];

/**
 * `jobTypes`: the types this worker runs, whose counters start at 0: a series Prometheus first sees
 * at 20 has no increase to rate, so the first jobs after a start would never show as throughput.
 */
export function createWorkerMetrics(registry: Registry, concurrency: number, pool = 'default', jobTypes: readonly string[] = []) {
  const registers = [registry];
  const byType = (name: string, help: string) =>
    new Counter({ name, help, labelNames: ['type'] as const, registers });
  const metrics = {
    started: byType('conveyor_jobs_started_total', 'Job runs started (claims won), by job type.'),
    succeeded: byType('conveyor_jobs_succeeded_total', 'Jobs that ended in success, by job type.'),
    failed: byType('conveyor_jobs_failed_total', 'Jobs that ended failed, by job type.'),
    retried: byType('conveyor_jobs_retried_total', 'Failed attempts scheduled for another attempt, by job type.'),
    cancelled: byType('conveyor_jobs_cancelled_total', 'Jobs cancelled by this worker (queued or running), by job type.'),
    released: byType('conveyor_worker_jobs_released_total', 'Running jobs handed back to the queue at shutdown, by job type.'),
    duplicates: byType('conveyor_worker_duplicate_deliveries_total', 'Messages acknowledged without running: the job was running or finished.'),
    runDuration: tracedHistogram({
      name: 'conveyor_jobs_run_duration_seconds',
      help: 'Handler run time, by job type and outcome.',
      labelNames: ['type', 'outcome'] as const,
      buckets: RUN_BUCKETS,
      registers,
    }),
    enqueueToStart: tracedHistogram({
      name: 'conveyor_jobs_enqueue_to_start_seconds',
      help: 'From the job being stored (created_at) to a worker starting it, by job type.',
      labelNames: ['type'] as const,
      buckets: WAIT_BUCKETS,
      registers,
    }),
    startLateness: tracedHistogram({
      name: 'conveyor_jobs_start_lateness_seconds',
      help: 'Delayed jobs and retries: from run_at (or created_at, if later) to a worker starting the job, by job type.',
      labelNames: ['type'] as const,
      buckets: LATENESS_BUCKETS,
      registers,
    }),
    endToEnd: tracedHistogram({
      name: 'conveyor_jobs_end_to_end_duration_seconds',
      help: 'From the job being stored (created_at) to its last word (success, failed, cancelled while running), by job type and outcome.',
      labelNames: ['type', 'outcome'] as const,
      buckets: END_TO_END_BUCKETS,
      registers,
    }),
    inFlight: new Gauge({ name: 'conveyor_worker_in_flight', help: 'Handlers running now.', registers }),
    held: new Gauge({ name: 'conveyor_worker_held_messages', help: 'Messages received ahead of their run time, held until it.', registers }),
    paused: new Gauge({
      name: 'conveyor_worker_pool_paused',
      help: '1 while this worker holds its pool paused (receives nothing), 0 while it runs, by worker pool.',
      labelNames: ['pool'] as const,
      registers,
    }),
    concurrency: new Gauge({
      name: 'conveyor_worker_concurrency',
      help: 'Most handlers this worker runs at once, by worker pool (one series per live worker).',
      labelNames: ['pool'] as const,
      registers,
    }),
    limited: new Counter({
      name: 'conveyor_worker_limited_total',
      help: 'Deliveries whose job a start limit held back (reason: tenant_concurrency_limit, key_concurrency_limit or rate_limited), sent again after a backoff, or a pause held (type_paused, tenant_paused) until its resume.',
      labelNames: ['type', 'reason'] as const,
      registers,
    }),
    poison: new Counter({
      name: 'conveyor_worker_poison_messages_total',
      help: 'Messages that can never run (malformed, unknown type, invalid payload, unknown job), moved to the DLQ.',
      labelNames: ['reason'] as const,
      registers,
    }),
    sqsRequests: new Counter({
      name: 'conveyor_worker_sqs_requests_total',
      help: 'Calls this worker made to SQS, by operation (receive, receive_empty for a receive that brought nothing, delete, visibility, send); with sqs_received_messages, messages per receive.',
      labelNames: ['operation'] as const,
      registers,
    }),
    sqsReceived: new Counter({
      name: 'conveyor_worker_sqs_received_messages_total',
      help: 'Messages this worker received from SQS (every class queue and lane).',
      registers,
    }),
    errors: new Counter({
      name: 'conveyor_worker_errors_total',
      help: 'Errors talking to SQS, S3 or Postgres, by operation; the loop goes on.',
      labelNames: ['operation'] as const,
      registers,
    }),
  };
  metrics.concurrency.set({ pool }, concurrency);
  for (const type of jobTypes) {
    for (const counter of [metrics.started, metrics.succeeded, metrics.failed, metrics.retried, metrics.cancelled]) counter.inc({ type }, 0);
  }
  return metrics;
}

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;

/**
 * SQS depth of the pool's queues (one per priority class) and its DLQ, read with GetQueueAttributes
 * when Prometheus scrapes (one cheap call per queue per scrape); a failed read leaves the series
 * out rather than failing the scrape.
 */
export function registerQueueDepth(
  registry: Registry,
  queues: Array<{ queue: string; role: 'queue' | 'dlq' }>,
  read: (queue: string) => Promise<QueueDepth>,
) {
  return new Gauge({
    name: 'conveyor_sqs_messages',
    help: 'Approximate messages in an SQS queue, by queue, role (queue or dlq) and state (visible, in_flight, delayed).',
    labelNames: ['queue', 'role', 'state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const read1 = async (role: 'queue' | 'dlq', queue: string) => {
        const depth = await read(queue).catch(() => undefined);
        if (!depth) return;
        this.set({ queue, role, state: 'visible' }, depth.visible);
        this.set({ queue, role, state: 'in_flight' }, depth.inFlight);
        this.set({ queue, role, state: 'delayed' }, depth.delayed);
      };
      await Promise.all(queues.map(({ role, queue }) => read1(role, queue)));
    },
  });
}

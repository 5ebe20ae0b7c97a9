import { bootstrap, createKafka, createPool, observeTraced, pingKafka, recordJobStep, runMain, traceIdOf } from '@conveyor/platform';
import { createOutboxSignal, SCHEDULED_CHANNEL, startOutboxRelay, topology } from '@conveyor/jobs';
import { configSchema } from './config.js';
import { createSchedulerMetrics, registerJobBacklog } from './metrics.js';
import { readJobBacklog } from './backlog.repo.js';
import { dispatchDueJobs, peekNextDue } from './due-jobs.repo.js';
import { startDispatcher } from './dispatcher.js';
import { listen } from './pg-listener.js';
import { startReconciler } from './reconciler.js';
import { ScheduleController, type ScheduleStatusSink } from './schedules/controller.js';
import { scheduleJobsRepo } from './schedules/schedule-jobs.repo.js';
import { logStatusSink, startFolderSource } from './schedules/folder.source.js';

runMain('scheduler', async () => {
  const { config, logger, metrics, service } = bootstrap('scheduler', configSchema);
  const pool = createPool({ connectionString: config.DATABASE_URL, max: config.DATABASE_POOL_MAX, applicationName: 'scheduler' });
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID ?? 'scheduler', logger });
  const m = createSchedulerMetrics(metrics.registry);
  registerJobBacklog(metrics.registry, () => readJobBacklog(pool));
  service
    .addReadinessCheck('postgres', () => pool.query('SELECT 1'))
    .addReadinessCheck('kafka', () => pingKafka(kafka))
    .onStop('postgres', () => pool.end());

  // Dispatched and re-driven jobs are `queued` with published_at NULL: the outbox relay sends them,
  // here as in the api, so delayed jobs flow even while the api is down. The api's relay listens
  // for the outbox signal of every process; this one is woken by this process's own writes and
  // otherwise polls, so immediate jobs do not wake two relays each.
  const relay = await startOutboxRelay({
    listen: false,
    pool,
    kafka,
    topology: topology(config.CONVEYOR_NAMESPACE),
    logger,
    registry: metrics.registry,
    batchSize: config.OUTBOX_BATCH_SIZE,
    pollIntervalMs: config.OUTBOX_POLL_INTERVAL_MS,
  });
  service.onStop('outbox relay', () => relay.stop());
  // What this process writes wakes its own relay at once, and the api's relays and event streams by NOTIFY.
  const outbox = createOutboxSignal({ pool, logger, local: () => relay.wake() });
  service.onStop('outbox signal', async () => outbox.stop());

  const dispatcher = startDispatcher({
    claim: () => dispatchDueJobs(pool, config.DISPATCH_BATCH_SIZE, config.DISPATCH_LEAD_MS),
    peek: () => peekNextDue(pool, config.DISPATCH_LEAD_MS),
    batchSize: config.DISPATCH_BATCH_SIZE,
    safetyIntervalMs: config.DISPATCH_SAFETY_INTERVAL_MS,
    logger,
    onDispatched: (round) => {
      m.dispatched.inc(round.dispatched.length);
      if (round.dispatched.length > 0) outbox.written();
      for (const job of round.dispatched) {
        // Zero when dispatched ahead (the normal case with a lead): only dispatching past run_at is late.
        const lateness = Math.max(0, job.dispatchedAt.getTime() - job.runAt.getTime()) / 1000;
        observeTraced(m.lateness, {}, lateness, traceIdOf(job.traceparent) ?? null);
        recordJobStep(`dispatch ${job.type}`, job.id, { traceparent: job.traceparent ?? undefined }, { 'conveyor.job.type': job.type, 'conveyor.dispatch.lateness_seconds': lateness }, job.runAt);
      }
    },
    onError: () => m.loopErrors.inc({ loop: 'dispatcher' }),
  });
  service.onStop('dispatcher', () => dispatcher.stop());
  const listener = await listen({
    connectionString: config.DATABASE_URL,
    channel: SCHEDULED_CHANNEL,
    logger,
    onNotify: () => dispatcher.notify(),
    onConnect: () => dispatcher.notify(),
  });
  service.onStop('listener', () => listener.stop());

  const reconciler = startReconciler({
    db: pool,
    logger,
    metrics: m,
    intervalMs: config.RECONCILE_INTERVAL_MS,
    batchSize: config.RECONCILE_BATCH_SIZE,
    processingLeaseSeconds: config.RECONCILE_PROCESSING_LEASE_SECONDS,
    redriveAfterSeconds: config.QUEUED_REDRIVE_AFTER_SECONDS,
    written: outbox.written,
  });
  service.onStop('reconciler', () => reconciler.stop());

  if (config.SCHEDULES_SOURCE !== 'none') {
    // The Kubernetes client is large: load it only where it is used.
    const k8s = config.SCHEDULES_SOURCE === 'kubernetes' ? await import('./schedules/kubernetes.source.js') : undefined;
    const kc = k8s?.loadKubeConfig();
    const sink: ScheduleStatusSink = k8s && kc ? k8s.kubernetesStatusSink(kc, logger, config.HOSTNAME) : logStatusSink(logger);
    const controller = new ScheduleController({ jobs: scheduleJobsRepo(outbox.track(pool)), sink, logger, metrics: m, defaultTenant: config.SCHEDULES_TENANT });
    const source = k8s && kc
      ? await k8s.startKubernetesSource({ kc, namespace: config.SCHEDULES_WATCH_NAMESPACE, controller, logger })
      : await startFolderSource({ dir: config.SCHEDULES_DIR, controller, logger }).catch((error: unknown) => {
          throw new Error(`SCHEDULES_DIR: cannot read schedules folder "${config.SCHEDULES_DIR}"`, { cause: error });
        });
    service.onStop('schedules', async () => {
      await source.stop();
      await controller.stop();
    });
  }

  await service.start();
});

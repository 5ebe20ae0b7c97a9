import { randomUUID } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { bootstrap, createKafka, createPool, createS3Client, createSnsClient, createSqsClient, observeTraced, pingKafka, recordJobStep, runMain, traceIdOf } from '@conveyor/platform';
import { createOutboxSignal, SCHEDULED_CHANNEL, startListener, startOutboxRelay, topology } from '@conveyor/jobs';
import { configSchema } from './config.js';
import { createSchedulerMetrics, registerJobBacklog, registerTenantJobs } from './metrics.js';
import { readTenantJobs } from './tenants.repo.js';
import { readJobBacklog } from './backlog.repo.js';
import { dispatchDueJobs, peekNextDue } from './due-jobs.repo.js';
import { startDispatcher } from './dispatcher.js';
import { startReconciler } from './reconciler.js';
import { databaseNow } from './stale-jobs.repo.js';
import { leaderOnly, type Election, type LeadershipCallbacks } from './leadership/leadership.js';
import { startAdvisoryLockElection } from './leadership/advisory-lock.election.js';
import { startLeaseElection } from './leadership/lease.election.js';
import { HandoffWatermark, kafkaTopicOffsets } from './lost-messages/handoff-watermark.js';
import { lostMessageCheck, poolQueues } from './lost-messages/lost-messages.js';
import { sqsQueueCensus } from './lost-messages/queue.census.js';
import { ScheduleController, type ScheduleStatusSink } from './schedules/controller.js';
import type { JobTypeController } from './job-types/job-type.controller.js';
import { scheduleJobsRepo } from './schedules/schedule-jobs.repo.js';
import { logStatusSink, startFolderSource } from './schedules/folder.source.js';
import { postgresStatusSink, startPostgresSource } from './schedules/postgres.source.js';
import { finishedJobsRules } from './retention/policy.js';
import { createRetentionMetrics, startRetention, type RetentionPolicy } from './retention/retention.js';

runMain('scheduler', async () => {
  const { config, logger, metrics, service } = bootstrap('scheduler', configSchema);
  const topo = topology(config.CONVEYOR_NAMESPACE);
  const pool = createPool({ connectionString: config.DATABASE_URL, max: config.DATABASE_POOL_MAX, applicationName: 'scheduler' });
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID ?? 'scheduler', logger });
  const m = createSchedulerMetrics(metrics.registry);
  registerJobBacklog(metrics.registry, () => readJobBacklog(pool));
  registerTenantJobs(metrics.registry, () => readTenantJobs(pool), config.TENANT_METRICS_TOP_N);
  service
    .addReadinessCheck('postgres', () => pool.query('SELECT 1'))
    .addReadinessCheck('kafka', () => pingKafka(kafka))
    .onStop('postgres', () => pool.end());

  // Every replica, whether it leads or not, dispatches due jobs and relays the outbox: both claim
  // their rows with SKIP LOCKED, so replicas share the work and none does a row twice, and delayed
  // jobs stay on time while leadership changes hands.

  // Dispatched and re-driven jobs are `queued` with published_at NULL: the outbox relay sends them,
  // here as in the api, so delayed jobs flow even while the api is down. The api's relay listens
  // for the outbox signal of every process; this one is woken by this process's own writes and
  // otherwise polls, so immediate jobs do not wake two relays each.
  const relay = await startOutboxRelay({
    listen: false,
    pool,
    kafka,
    topology: topo,
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
  // Woken also after every (re)connect: a NOTIFY sent meanwhile was lost.
  const listener = startListener({ pool, channel: SCHEDULED_CHANNEL, logger, onWake: () => dispatcher.notify() });
  service.onStop('listener', () => listener.stop());

  // Only the leader fires cron schedules (one writer of each JobSchedule's status and Events, one
  // timer per fire time; the fire's idempotency key still makes a fire once if a handover lets two
  // replicas act for a moment) and reconciles (its queue scans must never run twice at once; see
  // lost-messages.ts).
  const electionMode = config.LEADER_ELECTION ?? (config.SCHEDULES_SOURCE === 'kubernetes' ? 'lease' : 'advisory-lock');
  // The Kubernetes client is large: load it only where it is used.
  const operatorMode = config.OPERATOR_RESOURCES ?? (config.SCHEDULES_SOURCE === 'kubernetes' ? 'kubernetes' : 'none');
  const k8s = config.SCHEDULES_SOURCE === 'kubernetes' || electionMode === 'lease' || operatorMode === 'kubernetes' ? await import('./schedules/kubernetes.source.js') : undefined;
  const kc = k8s?.loadKubeConfig();
  const watched = config.SCHEDULES_SOURCE === 'kubernetes' && k8s && kc ? { k8s, kc } : undefined;
  if (config.SCHEDULES_SOURCE === 'folder') {
    await readdir(config.SCHEDULES_DIR).catch((error: unknown) => {
      throw new Error(`SCHEDULES_DIR: cannot read schedules folder "${config.SCHEDULES_DIR}"`, { cause: error });
    });
  }
  const sqs = createSqsClient({
    region: config.AWS_REGION,
    endpoint: config.AWS_ENDPOINT_URL,
    accessKeyId: config.AWS_ACCESS_KEY_ID,
    secretAccessKey: config.AWS_SECRET_ACCESS_KEY,
  });
  const s3 = createS3Client({
    region: config.AWS_REGION,
    endpoint: config.AWS_ENDPOINT_URL,
    accessKeyId: config.AWS_ACCESS_KEY_ID,
    secretAccessKey: config.AWS_SECRET_ACCESS_KEY,
  });
  const retentionPolicy: RetentionPolicy = {
    finishedJobs: finishedJobsRules(config.RETENTION_FINISHED_JOBS, config.RETENTION_OVERRIDES),
    idempotencyKeySeconds: config.RETENTION_IDEMPOTENCY_KEYS,
    notificationSeconds: config.RETENTION_NOTIFICATIONS,
  };
  const retentionMetrics = createRetentionMetrics(metrics.registry, pool, retentionPolicy);
  const offsets = kafkaTopicOffsets(kafka, [
    { topic: topo.topics.requested, groupId: topo.consumerGroups.bridge },
    { topic: topo.topics.requestedOverflow, groupId: topo.consumerGroups.bridgeOverflow },
  ]);
  service.onStop('sqs and kafka admin', async () => {
    await offsets.close();
    sqs.destroy();
    s3.destroy();
  });

  const startSchedules = async (signal: AbortSignal) => {
    if (config.SCHEDULES_SOURCE === 'none') return undefined;
    const fromTable = config.SCHEDULES_SOURCE === 'postgres';
    const sink: ScheduleStatusSink = watched
      ? watched.k8s.kubernetesStatusSink(watched.kc, logger, config.HOSTNAME)
      : fromTable
        ? postgresStatusSink(pool, logger)
        : logStatusSink(logger);
    const controller = new ScheduleController({ jobs: scheduleJobsRepo(outbox.track(pool)), sink, logger, metrics: m, defaultTenant: config.SCHEDULES_TENANT, signal });
    const source = watched
      ? await watched.k8s.startKubernetesSource({ kc: watched.kc, namespace: config.SCHEDULES_WATCH_NAMESPACE, controller, logger })
      : fromTable
        ? await startPostgresSource({ pool, controller, logger, resyncMs: config.SCHEDULES_RESYNC_MS })
        : await startFolderSource({ dir: config.SCHEDULES_DIR, controller, logger });
    return {
      stop: async () => {
        // The controller first: its timers stop at once, while the source's watch winds down.
        const stopped = controller.stop();
        await source.stop();
        await stopped;
      },
    };
  };
  const sns = createSnsClient({
    region: config.AWS_REGION,
    endpoint: config.AWS_ENDPOINT_URL,
    accessKeyId: config.AWS_ACCESS_KEY_ID,
    secretAccessKey: config.AWS_SECRET_ACCESS_KEY,
  });
  service.onStop('sns', async () => sns.destroy());
  const startOperator = async (kubeConfig: NonNullable<typeof kc>, signal: AbortSignal) => {
    const [{ startJobTypeOperator }, { startWorkerPoolOperator }, { startTenantQuotaOperator }] = await Promise.all([
      import('./job-types/kubernetes.js'),
      import('./worker-pools/kubernetes.js'),
      import('./tenant-quotas/kubernetes.js'),
    ]);
    const namespace = config.SCHEDULES_WATCH_NAMESPACE;
    // The two know each other: a JobType may name a WorkerPool, a WorkerPool may select JobTypes.
    // WorkerPools are listed first, so JobTypes naming them are never reported UnknownPool at start.
    const known: { types?: JobTypeController } = {};
    const pools = await startWorkerPoolOperator({
      kc: kubeConfig,
      namespace,
      sns,
      sqs,
      db: pool,
      settings: {
        conveyorNamespace: config.CONVEYOR_NAMESPACE,
        awsRegion: config.AWS_REGION,
        awsEndpoint: config.AWS_ENDPOINT_URL,
        triggerAuthentication: config.WORKER_POOL_TRIGGER_AUTHENTICATION || undefined,
        scalingUrl: config.WORKER_POOL_SCALING_URL || undefined,
        scalingFailureThreshold: config.WORKER_POOL_SCALING_FAILURE_THRESHOLD,
      },
      logger,
      signal,
      resyncMs: config.OPERATOR_RESYNC_MS,
      jobTypes: () => known.types?.declared() ?? [],
      // A JobType naming a pool whose queue just became ready (or went) is reconciled again.
      onPoolsChanged: () => known.types?.requeueAll(),
      onError: () => m.loopErrors.inc({ loop: 'worker-pools' }),
    });
    const types = await startJobTypeOperator({
      kc: kubeConfig,
      namespace,
      pool,
      logger,
      signal,
      extraPools: () => pools.controller.pools(),
      onError: () => m.loopErrors.inc({ loop: 'job-types' }),
    }).catch(async (error: unknown) => {
      await pools.stop();
      throw error;
    });
    known.types = types.controller;
    // Selectors see the JobTypes now.
    pools.controller.requeueAll();
    const quotas = await startTenantQuotaOperator({
      kc: kubeConfig,
      namespace,
      pool,
      logger,
      signal,
      resyncMs: config.OPERATOR_RESYNC_MS,
      onError: () => m.loopErrors.inc({ loop: 'tenant-quotas' }),
    }).catch(async (error: unknown) => {
      await Promise.all([types.stop(), pools.stop()]);
      throw error;
    });
    return { stop: async () => void (await Promise.all([types.stop(), pools.stop(), quotas.stop()])) };
  };
  const work = leaderOnly(async (signal) => {
    const reconciler = startReconciler({
      db: pool,
      logger,
      metrics: m,
      intervalMs: config.RECONCILE_INTERVAL_MS,
      batchSize: config.RECONCILE_BATCH_SIZE,
      processingLeaseSeconds: config.RECONCILE_PROCESSING_LEASE_SECONDS,
      lostMessages: lostMessageCheck({
        db: pool,
        census: sqsQueueCensus(sqs, logger),
        watermark: new HandoffWatermark(offsets, () => databaseNow(pool)),
        queues: poolQueues(topo),
        redriveAfterMs: config.QUEUED_REDRIVE_AFTER_SECONDS * 1000,
        batchSize: config.RECONCILE_BATCH_SIZE,
        logger,
        metrics: m,
      }),
      written: outbox.written,
      signal,
    });
    // Only the leader deletes: one pass at a time walks the history, oldest first.
    const retention = startRetention({
      db: pool,
      policy: retentionPolicy,
      batchSize: config.RETENTION_BATCH_SIZE,
      intervalMs: config.RETENTION_INTERVAL_MS,
      results: { s3, bucket: config.S3_BUCKET },
      logger,
      metrics: retentionMetrics,
      signal,
      onError: () => m.loopErrors.inc({ loop: 'retention' }),
    });
    const schedules = await startSchedules(signal).catch(async (error: unknown) => {
      await Promise.all([reconciler.stop(), retention.stop()]);
      throw error;
    });
    // The operator: JobType resources into the job type registry, WorkerPools into queues, Deployments and
    // ScaledObjects, TenantQuotas into tenant_quotas.
    const operator = operatorMode === 'kubernetes' && kc ? await startOperator(kc, signal).catch(async (error: unknown) => {
      await Promise.all([reconciler.stop(), retention.stop(), schedules?.stop()]);
      throw error;
    }) : undefined;
    return { stop: async () => void (await Promise.all([reconciler.stop(), retention.stop(), schedules?.stop(), operator?.stop()])) };
  }, logger);

  m.isLeader.set(0);
  const callbacks: LeadershipCallbacks = {
    onStartedLeading: () => {
      m.isLeader.set(1);
      work.begin();
    },
    onStoppedLeading: () => {
      m.isLeader.set(0);
      return work.end();
    },
  };
  // Unique per process, like client-go's examples: a restarted pod with the same name is a new candidate.
  const identity = `${config.HOSTNAME}_${randomUUID()}`;
  const timing = {
    identity,
    renewDeadlineMs: config.LEADER_ELECTION_RENEW_DEADLINE_SECONDS * 1000,
    retryPeriodMs: config.LEADER_ELECTION_RETRY_PERIOD_SECONDS * 1000,
    logger,
    callbacks,
  };
  let election: Election;
  if (electionMode === 'lease') {
    const { kubernetesLeaseStore } = await import('./leadership/lease.store.js');
    const namespace = config.LEADER_ELECTION_NAMESPACE || config.SCHEDULES_WATCH_NAMESPACE || 'default';
    const store = kubernetesLeaseStore(kc!, namespace, config.LEADER_ELECTION_LEASE_NAME, timing.renewDeadlineMs);
    election = startLeaseElection({ ...timing, store, leaseDurationSeconds: config.LEADER_ELECTION_LEASE_DURATION_SECONDS });
  } else {
    election = startAdvisoryLockElection({
      ...timing,
      connectionString: config.DATABASE_URL,
      lockName: config.LEADER_ELECTION_LEASE_NAME,
      checkTimeoutMs: timing.renewDeadlineMs,
      deadSessionSeconds: config.LEADER_ELECTION_LEASE_DURATION_SECONDS,
    });
  }
  // Registered last, so it stops first: the leader's work ends and leadership is handed over
  // before the dispatcher, the relay and the pool close.
  service.onStop('leader election', () => election.stop());
  logger.info({ identity, election: electionMode }, 'campaigning for leadership');

  await service.start();
});

import { SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { z } from 'zod';
import {
  fromMessageAttributes,
  observeTraced,
  parseEnvelope,
  restoreContext,
  withContext,
  type JobEnvelope,
  type Logger,
  type Pool,
} from '@conveyor/platform';
import {
  cancelRunningJob,
  cancelUnstarted,
  dependencyResults,
  failAbandoned,
  failJob,
  failUnstarted,
  heartbeat,
  holdJob,
  noteWaiting,
  PermanentJobError,
  readJob,
  recordProgress,
  releaseJob,
  putResult,
  resultKey,
  retryJob,
  type ClaimedJob,
  type JobContext,
  type JobResult,
  type Queryable,
  type ResultBucket,
  type RunLease,
  type StoredResult,
} from '@conveyor/jobs';
import { decideUnclaimed } from './claim-decision.js';
import { validatePayload, type JobTypeDefinition } from './job-type.js';
import type { WorkerMetrics } from './metrics.js';
import type { JobQueuePort, Message } from './queue.consumer.js';
import type { RunBatcher } from './run-batcher.js';
import type { RunningJobs } from './running-jobs.js';
import { placeResult } from './result-placement.js';
import { decideFailure, retryDelaySeconds, type BackoffPolicy } from './retry.js';

export interface RunnerSettings {
  workerId: string;
  pool: string;
  /** The job types this worker runs, by name; anything else on its queue is poison. */
  jobTypes: ReadonlyMap<string, JobTypeDefinition>;
  leaseSeconds: number;
  heartbeatMs: number;
  /** Visibility each heartbeat grants the message (the pool's visibility timeout). */
  visibilitySeconds: number;
  inlineMaxBytes: number;
  backoff: BackoffPolicy;
  random?: () => number;
}

export interface RunnerDeps {
  /** Reads, heartbeats and the handlers' own queries. */
  db: Pool;
  /** Status changes, which write job_events rows: each announces them to the relays (outbox signal). */
  events: Queryable;
  /** Announces a committed retry to the scheduler's dispatchers (outbox signal). */
  announceDue: () => void;
  /** This process's runs, which a cancellation announcement reaches by job id. */
  running: RunningJobs;
  /** Claims and completions, batched across the messages in flight. */
  runs: RunBatcher;
  queue: JobQueuePort;
  results: ResultBucket;
  metrics: WorkerMetrics;
  logger: Logger;
  settings: RunnerSettings;
  /** The claim found the pool paused before this process heard of it: re-read the pause state now. */
  pauseFound?: () => void;
}

/** Why a run stopped before its handler finished. */
type AbortKind = 'cancelled' | 'lease lost' | 'shutdown' | 'timeout';

class RunAborted extends Error {
  constructor(readonly kind: AbortKind) {
    super(`run aborted: ${kind}`);
    this.name = 'RunAborted';
  }
}

const tracer = trace.getTracer('@conveyor/worker');
const MAX_ERROR_CHARS = 2_000;
const MAX_PROGRESS_MESSAGE_CHARS = 500;

/**
 * Handles one SQS message from receipt to its last word: poison -> DLQ; not claimable -> ack,
 * cancel or later; claimed -> run with heartbeats, then success, retry, failure, cancellation or
 * (at shutdown) release. Throws only when Postgres or SQS fail; the message then comes back after
 * its visibility timeout.
 */
export async function handleMessage(deps: RunnerDeps, message: Message, shutdown: AbortSignal): Promise<void> {
  const attributes = fromMessageAttributes(message.MessageAttributes);
  const parsed = parseEnvelope(message.Body);
  if (!parsed.ok) return poison(deps, message, 'invalid envelope', parsed.error, jobIdOf(message.Body));
  const envelope = parsed.envelope;
  return withContext({ requestId: attributes.requestId, jobId: envelope.jobId }, () =>
    tracer.startActiveSpan(
      `process ${envelope.type}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: { 'messaging.system': 'aws_sqs', 'messaging.message.id': message.MessageId ?? '', 'conveyor.job.id': envelope.jobId, 'conveyor.job.type': envelope.type },
      },
      restoreContext(attributes),
      async (span) => {
        try {
          await dispatch(deps, message, envelope, shutdown, span);
        } catch (error) {
          span.recordException(error as Error);
          span.setStatus({ code: SpanStatusCode.ERROR, message: errorText(error) });
          throw error;
        } finally {
          span.end();
        }
      },
    ),
  );
}

async function dispatch(deps: RunnerDeps, message: Message, envelope: JobEnvelope, shutdown: AbortSignal, span: Span): Promise<void> {
  const { settings } = deps;
  const type = settings.jobTypes.get(envelope.type);
  if (!type) {
    const known = [...settings.jobTypes.keys()].join(', ');
    return poison(deps, message, 'unknown type', `job type "${envelope.type}" is not run by this worker (pool ${settings.pool} runs ${known})`, envelope.jobId);
  }
  const payload = await validatePayload(type, envelope.payload);
  if (!payload.ok) return poison(deps, message, 'invalid payload', payload.error, envelope.jobId);

  const job = await deps.runs.claim(envelope.jobId);
  if (!job) return settleUnclaimed(deps, message, envelope);
  span.setAttribute('conveyor.job.attempt', job.attempt);
  await run(deps, message, type, payload.value, capped(job, type), shutdown);
}

async function settleUnclaimed(deps: RunnerDeps, message: Message, envelope: JobEnvelope): Promise<void> {
  const { db, queue, metrics, logger, settings } = deps;
  const job = await readJob(db, envelope.jobId, settings.pool);
  const action = decideUnclaimed(job, settings.leaseSeconds);
  switch (action) {
    case 'ack':
      metrics.duplicates.inc({ type: envelope.type });
      logger.info({ type: envelope.type, status: job!.status }, 'nothing to run for this delivery (the job runs elsewhere, finished, or waits for a later message): acknowledging it');
      return queue.remove(message);
    case 'cancel':
      if (await cancelUnstarted(deps.events, envelope.jobId, settings.leaseSeconds)) metrics.cancelled.inc({ type: envelope.type });
      logger.info({ type: envelope.type }, 'job was cancelled before it started: skipped');
      return queue.remove(message);
    case 'exhausted':
      if (await failAbandoned(deps.events, envelope.jobId, settings.leaseSeconds)) metrics.failed.inc({ type: envelope.type });
      logger.error({ type: envelope.type, attempts: job!.attempts }, 'job failed: its worker died during the last attempt');
      return queue.deadLetter(message);
    case 'poison':
      return poison(deps, message, 'unknown job', `no job ${envelope.jobId}`);
    case 'not due':
      // Back on the queue once run_at has passed by the database's clock, not ours.
      return queue.setVisibility(message, Math.ceil(job!.dueInMs! / 1000));
    case 'paused':
      deps.pauseFound?.();
      if (job!.waitingReason !== 'pool_paused') await noteWaiting(deps.events, envelope.jobId, 'pool_paused');
      logger.info({ type: envelope.type, pool: settings.pool }, 'pool is paused: handing the message back');
      // Visible at once: no worker of a paused pool receives, and the first to after the resume runs it.
      return queue.setVisibility(message, 0);
    case 'held': {
      // The job waits in Postgres, not in the queue: a long pause costs no receives.
      const reason = await holdJob(deps.events, envelope.jobId);
      if (!reason) return queue.setVisibility(message, retryDelaySeconds(1, settings.backoff, settings.random));
      metrics.limited.inc({ type: envelope.type, reason });
      logger.info({ type: envelope.type, reason }, 'its job type or tenant is paused: the job is held until the resume sends it again');
      return queue.remove(message);
    }
    case 'limited': {
      // Sent again rather than made visible later: every receive counts toward the queue's
      // maxReceiveCount, and a job may wait for a slot longer than ten receives.
      const waits = limitWaitsOf(message);
      const backoff = job!.startLimit === 'rate_limited' ? RATE_LIMIT_BACKOFF : LIMIT_BACKOFF;
      const delaySeconds = retryDelaySeconds(waits + 1, backoff, settings.random);
      metrics.limited.inc({ type: envelope.type, reason: job!.startLimit! });
      // The job's stream hears of a new reason once, not of every retry.
      if (job!.waitingReason !== job!.startLimit) await noteWaiting(deps.events, envelope.jobId, job!.startLimit!);
      // Debug: a long wait repeats this every few seconds per held job; the counter tells the rate.
      logger.debug({ type: envelope.type, reason: job!.startLimit, waits, delaySeconds }, 'a start limit holds the job: trying again after a backoff');
      return queue.requeue(message, delaySeconds, { [LIMIT_WAITS_ATTRIBUTE]: String(waits + 1) });
    }
    case 'later':
      return queue.setVisibility(message, retryDelaySeconds(1, settings.backoff, settings.random));
  }
}

/**
 * The backoff of a job held by a start limit: 1 s, then up to 2, 4 and at most 5 s (full jitter),
 * so a freed slot is taken within about 5 s plus a receive, and many held jobs do not retry in step.
 */
export const LIMIT_BACKOFF: BackoffPolicy = { baseSeconds: 1, maxSeconds: 5 };

/** A rate limit counts starts per second: the next second is worth a try (1 or 2 s, jittered). */
export const RATE_LIMIT_BACKOFF: BackoffPolicy = { baseSeconds: 1, maxSeconds: 2 };

/** How often the message's job was already held by a start limit (a message attribute it carries along). */
export const LIMIT_WAITS_ATTRIBUTE = 'conveyor-limit-waits';

export function limitWaitsOf(message: Message): number {
  const waits = Number(message.MessageAttributes?.[LIMIT_WAITS_ATTRIBUTE]?.StringValue ?? 0);
  return Number.isInteger(waits) && waits >= 0 ? waits : 0;
}

async function poison(deps: RunnerDeps, message: Message, reason: string, error: string, jobId?: string): Promise<void> {
  deps.metrics.poison.inc({ reason });
  deps.logger.warn({ reason, error, messageId: message.MessageId, jobId }, 'poison message: moving it to the DLQ');
  // The job (when there is one) is marked first: if Postgres is down the message stays and is retried.
  if (jobId) await failUnstarted(deps.events, jobId, `${reason}: ${error}`.slice(0, MAX_ERROR_CHARS));
  await deps.queue.deadLetter(message);
}

type Outcome = { ok: true; result: JobResult } | { ok: false; error: unknown };

/** The job's own timeout and attempts, within what its type allows. */
export function capped(job: ClaimedJob, type: JobTypeDefinition): ClaimedJob {
  return {
    ...job,
    timeoutSeconds: Math.min(job.timeoutSeconds, type.timeout ?? Infinity),
    maxAttempts: Math.min(job.maxAttempts, type.retries === undefined ? Infinity : type.retries + 1),
  };
}

async function run(deps: RunnerDeps, message: Message, type: JobTypeDefinition, payload: unknown, job: ClaimedJob, shutdown: AbortSignal): Promise<void> {
  const { db, metrics, logger, settings } = deps;
  const lease: RunLease = { jobId: job.jobId, workerId: settings.workerId, attempt: job.attempt };
  const log = logger.child({ type: job.type, version: type.version, attempt: job.attempt });
  metrics.started.inc({ type: job.type });
  observeTraced(metrics.enqueueToStart, { type: job.type }, Math.max(0, Date.now() - job.createdAt.getTime()) / 1000);
  // A run time already past when the job was stored is not lateness: the job was asked for late.
  if (job.runAt) observeTraced(metrics.startLateness, { type: job.type }, Math.max(0, Date.now() - Math.max(job.runAt.getTime(), job.createdAt.getTime())) / 1000);

  const control = new AbortController();
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(new RunAborted('timeout')), job.timeoutSeconds * 1000);
  const onShutdown = () => control.abort(new RunAborted('shutdown'));
  shutdown.addEventListener('abort', onShutdown, { once: true });
  if (shutdown.aborted) onShutdown();
  const signal = AbortSignal.any([control.signal, timeout.signal]);
  const heartbeats = startHeartbeat(deps, message, lease, control, log);
  const unregister = deps.running.add(job.jobId, heartbeats.checkNow);

  const ctx: JobContext = {
    jobId: job.jobId,
    tenant: job.tenant,
    attempt: job.attempt,
    signal,
    db,
    logger: log,
    dependencies: () => dependencyResults(db, job.jobId),
    progress: async (percent, note) => {
      if (!Number.isFinite(percent)) return;
      const fraction = Math.min(100, Math.max(0, percent)) / 100;
      const text = note === undefined ? null : String(note).slice(0, MAX_PROGRESS_MESSAGE_CHARS);
      // Progress is informative: failing to record it must not fail the job.
      await recordProgress(deps.events, lease, fraction, text).catch((error: unknown) => {
        metrics.errors.inc({ operation: 'progress' });
        log.warn({ err: error }, 'could not record progress');
      });
    },
  };

  const started = performance.now();
  let outcome: Outcome;
  try {
    outcome = { ok: true, result: await untilAborted(type.handler(payload, ctx), signal) };
  } catch (error) {
    outcome = { ok: false, error };
  } finally {
    clearTimeout(timer);
    shutdown.removeEventListener('abort', onShutdown);
    unregister();
    await heartbeats.stop();
  }
  const seconds = (performance.now() - started) / 1000;

  if (outcome.ok) {
    try {
      await succeed(deps, message, lease, job, outcome.result, log);
      observeTraced(metrics.runDuration, { type: job.type, outcome: 'success' }, seconds);
      return;
    } catch (error) {
      // Storing the result failed (S3 down, say): a failed attempt like any other.
      metrics.errors.inc({ operation: 'store result' });
      outcome = { ok: false, error: new Error(`could not store the result: ${errorText(error)}`, { cause: error }) };
    }
  }
  const kind = outcome.error instanceof RunAborted ? outcome.error.kind : undefined;
  observeTraced(metrics.runDuration, { type: job.type, outcome: kind ?? 'error' }, seconds);
  await settleFailure(deps, message, lease, job, outcome.error, kind, log);
}

async function succeed(deps: RunnerDeps, message: Message, lease: RunLease, job: ClaimedJob, result: JobResult, log: Logger) {
  const placement = placeResult(result, deps.settings.inlineMaxBytes);
  let stored: StoredResult;
  if (placement.kind === 'object') {
    const key = resultKey(job.tenant, job.jobId);
    await putResult(deps.results, key, placement.body, placement.contentType);
    stored = { result: placement.summary, resultKey: key };
  } else {
    stored = { result: placement.result, resultKey: null };
  }
  if (!(await deps.runs.complete(lease, stored))) return leaseLost(log);
  deps.metrics.succeeded.inc({ type: job.type });
  observeEndToEnd(deps, job, 'success');
  log.info({ resultKey: stored.resultKey }, 'job succeeded');
  // The job's outcome is committed: the slot is free now. Should the delete be lost, the message
  // comes back and is acknowledged as a duplicate without running.
  deps.queue.removeLater(message, (error) => {
    deps.metrics.errors.inc({ operation: 'delete message' });
    log.warn({ err: error }, 'could not delete the message of a finished job; it will come back as a duplicate');
  });
}

async function settleFailure(
  deps: RunnerDeps,
  message: Message,
  lease: RunLease,
  job: ClaimedJob,
  error: unknown,
  kind: AbortKind | undefined,
  log: Logger,
): Promise<void> {
  const { events: db, queue, metrics, settings } = deps;
  if (kind === 'lease lost') return leaseLost(log);
  if (kind === 'cancelled') {
    if (!(await cancelRunningJob(db, lease))) return leaseLost(log);
    metrics.cancelled.inc({ type: job.type });
    observeEndToEnd(deps, job, 'cancelled');
    log.info('running job cancelled');
    return queue.remove(message);
  }
  if (kind === 'shutdown') {
    if (!(await releaseJob(db, lease))) return leaseLost(log);
    metrics.released.inc({ type: job.type });
    log.warn('worker shutting down: job returned to the queue');
    // Visible at once, so another worker takes it without waiting out the visibility timeout.
    return queue.setVisibility(message, 0);
  }
  const text = (kind === 'timeout' ? `timed out after ${job.timeoutSeconds} s` : errorText(error)).slice(0, MAX_ERROR_CHARS);
  const permanent = error instanceof PermanentJobError || (error as Error | undefined)?.name === 'PermanentJobError';
  const decision = decideFailure(job.attempt, job.maxAttempts, permanent, settings.backoff, settings.random);
  if (decision.kind === 'retry') {
    if (!(await retryJob(db, lease, text, decision.delaySeconds))) return leaseLost(log);
    deps.announceDue();
    metrics.retried.inc({ type: job.type });
    log.warn({ error: text, delaySeconds: decision.delaySeconds }, 'job attempt failed: retrying after a backoff');
    // The next attempt travels in a fresh message that the scheduler sends when it is due, so no
    // message is received more often than its job runs (README, "Retries"). Should this delete be
    // lost, the message comes back early and is acknowledged, or runs the attempt if already due.
    queue.removeLater(message, (err) => {
      metrics.errors.inc({ operation: 'delete message' });
      log.warn({ err }, 'could not delete the message of a failed attempt; it will come back as a duplicate');
    });
    return;
  }
  // Says which of the two endings it was: a permanent error, or every attempt spent.
  const failure = decision.reason === 'attempts exhausted' ? `gave up after ${job.attempt} attempt${job.attempt === 1 ? '' : 's'}: ${text}` : text;
  if (!(await failJob(db, lease, failure.slice(0, MAX_ERROR_CHARS), decision.reason))) return leaseLost(log);
  metrics.failed.inc({ type: job.type });
  observeEndToEnd(deps, job, 'failed');
  log.error({ error: failure, reason: decision.reason }, 'job failed');
  await queue.deadLetter(message);
}

function observeEndToEnd(deps: RunnerDeps, job: ClaimedJob, outcome: string): void {
  observeTraced(deps.metrics.endToEnd, { type: job.type, outcome }, Math.max(0, Date.now() - job.createdAt.getTime()) / 1000);
}

function leaseLost(log: Logger): void {
  // Another worker claimed the job after this one's heartbeat lapsed: its outcome is theirs to write.
  log.warn('lost the job to another worker: leaving its outcome to them');
}

interface Heartbeat {
  /** Checks at once, outside the interval, whether cancellation was requested (announced on the cancel channel). */
  checkNow: () => void;
  stop: () => Promise<void>;
}

/**
 * Refreshes the job's heartbeat and the message's visibility every interval; the heartbeat tells
 * whether cancellation was requested or the run was taken over, and aborts the run if so.
 */
function startHeartbeat(deps: RunnerDeps, message: Message, lease: RunLease, control: AbortController, log: Logger): Heartbeat {
  const { db, queue, metrics, settings } = deps;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let beating: Promise<void> = Promise.resolve();
  const check = async () => {
    const state = await heartbeat(db, lease);
    if (!state) control.abort(new RunAborted('lease lost'));
    else if (state.cancelRequested) control.abort(new RunAborted('cancelled'));
  };
  const beat = async () => {
    try {
      await Promise.all([check(), queue.setVisibility(message, settings.visibilitySeconds)]);
    } catch (error) {
      metrics.errors.inc({ operation: 'heartbeat' });
      log.warn({ err: error }, 'heartbeat failed');
    }
  };
  const schedule = () => {
    timer = setTimeout(() => {
      beating = beat().finally(() => {
        if (!stopped) schedule();
      });
    }, settings.heartbeatMs);
  };
  schedule();
  return {
    checkNow: () => {
      if (stopped) return;
      check().catch((error: unknown) => {
        metrics.errors.inc({ operation: 'cancel check' });
        log.warn({ err: error }, 'could not check for cancellation; the next heartbeat will');
      });
    },
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await beating;
    },
  };
}

/** Settles with the work, or rejects with the signal's reason as soon as it fires (a handler may ignore it). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const jobIdField = z.object({ jobId: z.uuid() });

/** The job id of a message that is not a valid envelope, when one can still be read from it. */
function jobIdOf(body: string | undefined): string | undefined {
  try {
    const parsed = jobIdField.safeParse(JSON.parse(body ?? ''));
    return parsed.success ? parsed.data.jobId : undefined;
  } catch {
    return undefined;
  }
}

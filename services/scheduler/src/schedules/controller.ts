import type { Logger } from '@conveyor/platform';
import { decide, nextStatus, sameStatus, type Decision, type ScheduleEvent } from './decide.js';
import {
  fireIdempotencyKey,
  fireKeyPrefix,
  scheduleKey,
  scheduleTenant,
  scheduleUid,
  validateSpec,
  type JobScheduleObject,
  type JobScheduleStatus,
} from './job-schedule.js';
import type { ScheduleJobs } from './schedule-jobs.repo.js';
import type { SchedulerMetrics } from '../metrics.js';

/** Where status and events go: the Kubernetes API, or the log outside Kubernetes. */
export interface ScheduleStatusSink {
  writeStatus(obj: JobScheduleObject, status: JobScheduleStatus): Promise<void>;
  event(obj: JobScheduleObject, event: ScheduleEvent): Promise<void>;
}

export interface ControllerOptions {
  jobs: ScheduleJobs;
  sink: ScheduleStatusSink;
  logger: Logger;
  metrics: SchedulerMetrics;
  defaultTenant: string;
  now?: () => Date;
  retryMs?: number;
  /** Aborted when this replica stops leading: from then on nothing is fired or written. */
  signal?: AbortSignal;
}

interface Entry {
  obj: JobScheduleObject;
  status: JobScheduleStatus | undefined;
  firstSeen: Date;
  seeded: boolean;
  timer?: NodeJS.Timeout;
  chain: Promise<void>;
  invalid: boolean;
}

/** setTimeout overflows above ~24.8 days; re-check at least hourly (also heals clock jumps). */
const MAX_SLEEP_MS = 3_600_000;

/**
 * Keeps one timer per schedule and reconciles it (read -> decide -> write) when it changes or its
 * next fire time comes. Reconciles of one schedule never overlap; an error is reported and retried,
 * and never marks the schedule Ready.
 */
export class ScheduleController {
  private readonly entries = new Map<string, Entry>();
  private stopped = false;
  private readonly now: () => Date;

  constructor(private readonly options: ControllerOptions) {
    this.now = options.now ?? (() => new Date());
  }

  /** False once stopped or no longer leading: checked before every write, not only between reconciles. */
  private get acting(): boolean {
    return !this.stopped && !this.options.signal?.aborted;
  }

  upsert(obj: JobScheduleObject): void {
    if (!this.acting) return;
    const key = scheduleKey(obj);
    const entry = this.entries.get(key);
    if (entry) {
      entry.obj = obj;
      // The API server's status is the record when there is one (restarts, other replicas).
      if (obj.status && Object.keys(obj.status).length > 0) entry.status = obj.status;
    } else {
      this.entries.set(key, { obj, status: obj.status, firstSeen: this.now(), seeded: false, chain: Promise.resolve(), invalid: false });
    }
    this.enqueue(key);
  }

  remove(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    if (entry.timer) clearTimeout(entry.timer);
    this.entries.delete(key);
    this.refreshInvalidGauge();
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }

  status(key: string): JobScheduleStatus | undefined {
    return this.entries.get(key)?.status;
  }

  /** Resolves once every reconcile queued so far has finished. */
  async idle(): Promise<void> {
    await Promise.all([...this.entries.values()].map((e) => e.chain));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const entry of this.entries.values()) if (entry.timer) clearTimeout(entry.timer);
    await Promise.all([...this.entries.values()].map((e) => e.chain));
  }

  private enqueue(key: string): void {
    const entry = this.entries.get(key);
    if (!entry || !this.acting) return;
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = undefined;
    entry.chain = entry.chain.then(() => this.reconcile(key));
  }

  private arm(key: string, delayMs: number): void {
    const entry = this.entries.get(key);
    if (!entry || !this.acting) return;
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = setTimeout(() => this.enqueue(key), Math.max(0, Math.min(delayMs, MAX_SLEEP_MS)));
  }

  private async reconcile(key: string): Promise<void> {
    const entry = this.entries.get(key);
    if (!entry || !this.acting) return;
    const { obj } = entry;
    const { jobs, sink, logger, metrics } = this.options;
    const log = logger.child({ schedule: key });
    const generation = obj.metadata.generation ?? 1;
    try {
      const validation = validateSpec(obj.spec);
      if (!validation.ok) {
        const status = nextStatus({ previous: entry.status, generation, now: this.now(), invalid: validation.message });
        if (!entry.invalid) {
          log.warn({ reason: validation.message }, 'invalid JobSchedule spec');
          await sink.event(obj, { type: 'Warning', reason: 'InvalidSpec', message: validation.message });
        }
        entry.invalid = true;
        this.refreshInvalidGauge();
        await this.write(entry, status);
        return;
      }
      entry.invalid = false;
      this.refreshInvalidGauge();

      const { spec, cron } = validation;
      const uid = scheduleUid(obj);
      const tenant = scheduleTenant(obj, this.options.defaultTenant);
      if (!entry.seeded && !entry.status?.lastScheduleTime) {
        const last = await jobs.lastFire(tenant, fireKeyPrefix(uid));
        if (last) entry.status = { ...entry.status, lastScheduleTime: last.fireTime.toISOString(), lastJobId: last.jobId };
      }
      entry.seeded = true;

      const now = this.now();
      const created = obj.metadata.creationTimestamp ? new Date(obj.metadata.creationTimestamp) : entry.firstSeen;
      const lastScheduleTime = entry.status?.lastScheduleTime ? new Date(entry.status.lastScheduleTime) : undefined;
      const previousJob = entry.status?.lastJobId ? await jobs.jobState(entry.status.lastJobId) : undefined;
      const decision: Decision = decide({ spec, cron, now, lastScheduleTime, createdAt: created, previousJob });

      // The reads above took time: leadership may have ended meanwhile.
      if (!this.acting) return;
      let firedJobId: string | undefined;
      if (decision.action === 'fire') {
        if (decision.cancelJobId) {
          await jobs.cancel(decision.cancelJobId, `replaced by the fire of ${decision.fireTime.toISOString()} (concurrencyPolicy Replace)`);
        }
        const outcome = await jobs.fire({
          tenant,
          owner: `schedule:${key}`,
          jobType: spec.jobType,
          payload: spec.payload,
          idempotencyKey: fireIdempotencyKey(uid, decision.fireTime),
        });
        firedJobId = outcome.jobId;
        metrics.scheduleFires.inc({ outcome: outcome.kind === 'created' ? 'fired' : 'replayed' });
        if (outcome.kind === 'created') {
          log.info({ job_id: outcome.jobId, fire_time: decision.fireTime.toISOString(), tenant }, 'schedule fired');
          decision.events.push({ type: 'Normal', reason: 'Fired', message: `created job ${outcome.jobId} for ${decision.fireTime.toISOString()}` });
        }
      } else if (decision.action === 'skip') {
        metrics.scheduleFires.inc({ outcome: decision.reason === 'Suspended' ? 'suspended' : 'skipped' });
      }
      for (const event of decision.events) await sink.event(obj, event);
      await this.write(entry, nextStatus({ previous: entry.status, generation, now, decision, firedJobId }));
      this.arm(key, decision.next ? decision.next.getTime() - this.now().getTime() + 1 : MAX_SLEEP_MS);
    } catch (error) {
      metrics.loopErrors.inc({ loop: 'schedules' });
      log.error({ err: error }, 'reconciling JobSchedule failed; retrying');
      await sink.event(obj, { type: 'Warning', reason: 'ReconcileError', message: String(error instanceof Error ? error.message : error) }).catch(() => undefined);
      this.arm(key, this.options.retryMs ?? 5_000);
    }
  }

  private async write(entry: Entry, status: JobScheduleStatus): Promise<void> {
    if (sameStatus(entry.status, status) || !this.acting) return;
    await this.options.sink.writeStatus(entry.obj, status);
    entry.status = status;
  }

  private refreshInvalidGauge(): void {
    this.options.metrics.schedulesInvalid.set([...this.entries.values()].filter((e) => e.invalid).length);
  }
}

/** After a full read of a source: forgets the schedules it no longer lists (`seen` holds the ones it did). */
export function removeVanished(controller: ScheduleController, known: Map<string, unknown>, seen: ReadonlySet<string>, logger: Logger): void {
  for (const key of [...known.keys()]) {
    if (seen.has(key)) continue;
    known.delete(key);
    controller.remove(key);
    logger.info({ schedule: key }, 'JobSchedule removed');
  }
}

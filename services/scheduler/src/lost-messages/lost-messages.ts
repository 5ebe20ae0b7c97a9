import type { Logger, QueueDepth } from '@conveyor/platform';
import { workQueues, type Queryable, type Topology } from '@conveyor/jobs';
import { countAwaitingDelivery, databaseNow, redriveLost } from '../stale-jobs.repo.js';
import type { SchedulerMetrics } from '../metrics.js';
import type { HandoffWatermark } from './handoff-watermark.js';
import type { QueueCensus, QueueScan, ScanOptions } from './queue.census.js';

/**
 * Telling "still waiting in its queue" from "message lost".
 *
 * What SQS shows: how many messages a queue holds (visible, in flight, delayed), and the messages
 * themselves, but only by receiving them; no message can be looked up by id. So:
 * 1. Count: every waiting job that Kafka handed to SNS long enough ago (handoff-watermark.ts, minus
 *    QUEUED_REDRIVE_AFTER_SECONDS) must have a message in its pool's queue. While the queue holds
 *    at least that many messages, nothing is provably lost and nothing is read or re-sent, however
 *    large the backlog and however long it waits (workers at zero, an outage). Extra messages
 *    (running jobs, stale copies) can hide a loss for a while; never the other way round.
 * 2. Scan: when the queue holds fewer messages than that on two passes in a row, the queue is
 *    read once (queue.census.ts) and the job ids of its messages collected.
 * 3. Re-send exactly the jobs counted in (1), untouched since the scan began minus
 *    QUEUED_REDRIVE_AFTER_SECONDS, whose id no message carried. A message can be out of a scan's
 *    sight only while a worker holds it, and workers hold messages only of jobs they touched
 *    lately (a delayed job received early and held until due, a claim race) or, after a crash,
 *    for a visibility timeout: the rare copy this makes is harmless, since a claim is conditional.
 *    A `retrying` job has no message while it waits (published_at NULL), so it is never counted.
 * Scans add one to each message's receive count, so a queue is scanned at most once per
 * QUEUED_REDRIVE_AFTER_SECONDS, and only by the leader (two scans at once would hide messages from
 * each other, and each would take the other's share for lost).
 */

export interface PoolQueue {
  pool: string;
  /** The pool's queue of each priority class, highest first: a waiting job's message is in one of them. */
  queues: readonly string[];
  jobTypes: readonly string[];
}

export function poolQueues(topo: Topology): PoolQueue[] {
  return topo.queues.map((q) => ({ pool: q.pool.name, queues: workQueues(q).map((c) => c.queue), jobTypes: q.pool.jobTypes }));
}

/** The pool's messages over all its class queues; undefined when none of them exists. */
async function poolDepth(census: QueueCensus, queues: readonly string[]): Promise<QueueDepth | undefined> {
  const depths = (await Promise.all(queues.map((queue) => census.depth(queue)))).filter((d): d is QueueDepth => d !== undefined);
  if (depths.length === 0) return undefined;
  return depths.reduce((sum, d) => ({ visible: sum.visible + d.visible, inFlight: sum.inFlight + d.inFlight, delayed: sum.delayed + d.delayed }));
}

/** Messages the queue is short of: positive only when fewer are there than jobs that must have one. */
export function missingMessages(expected: number, depth: QueueDepth): number {
  return Math.max(0, expected - (depth.visible + depth.inFlight + depth.delayed));
}

export interface ScanGate {
  /** Missing messages seen on the previous pass. */
  previouslyMissing: number;
  /** When this queue was last scanned (ms), if ever. */
  lastScanAt: number | undefined;
}

/**
 * Scan only for a shortfall seen on two passes in a row (SQS counts are approximate and lag a
 * little) and at most once per interval (each scan adds a receive to every message it reads).
 */
export function shouldScan(missing: number, gate: ScanGate, now: number, minIntervalMs: number): boolean {
  if (missing === 0 || gate.previouslyMissing === 0) return false;
  return gate.lastScanAt === undefined || now - gate.lastScanAt >= minIntervalMs;
}

export interface LostMessageCheckOptions {
  db: Queryable;
  census: QueueCensus;
  watermark: HandoffWatermark;
  queues: readonly PoolQueue[];
  /** QUEUED_REDRIVE_AFTER_SECONDS, in ms. */
  redriveAfterMs: number;
  /** Most jobs re-sent per statement (all lost jobs a scan found are re-sent in the same pass). */
  batchSize: number;
  logger: Logger;
  metrics: SchedulerMetrics;
  now?: () => number;
}

/**
 * Scans a pool's class queues one after the other. A class queue that does not exist (a team's
 * pool provisioned before classes) holds nothing to miss; the scan is complete only if every
 * existing one was read to the end.
 */
async function scanAll(census: QueueCensus, queues: readonly string[], options: ScanOptions): Promise<QueueScan> {
  const all: QueueScan = { jobIds: new Set(), received: 0, complete: true };
  let existing = 0;
  for (const queue of queues) {
    if (!(await census.depth(queue))) continue;
    existing++;
    const scan = await census.scan(queue, options);
    for (const id of scan.jobIds) all.jobIds.add(id);
    all.received += scan.received;
    all.complete &&= scan.complete;
  }
  return { ...all, complete: all.complete && existing > 0 };
}

/** How long scanned messages stay hidden, and how long a scan may take before it counts as incomplete. */
const SCAN_VISIBILITY_SECONDS = 120;
const SCAN_DEADLINE_MS = 90_000;

export type LostMessageCheck = (signal?: AbortSignal) => Promise<Array<{ id: string; previousStatus: string }>>;

/** One pass over every pool's queue; keeps what it needs between passes (the leader's term). */
export function lostMessageCheck(options: LostMessageCheckOptions): LostMessageCheck {
  const { db, census, watermark, queues, redriveAfterMs, batchSize, logger, metrics } = options;
  const now = options.now ?? Date.now;
  const gates = new Map<string, ScanGate>(queues.map((q) => [q.pool, { previouslyMissing: 0, lastScanAt: undefined }]));

  const checkQueue = async (q: PoolQueue, publishedBefore: Date, signal?: AbortSignal) => {
    const gate = gates.get(q.pool)!;
    const expected = await countAwaitingDelivery(db, q.jobTypes, publishedBefore);
    metrics.queueExpected.set({ pool: q.pool }, expected);
    // Nothing that must be there: no need to ask SQS anything.
    const depth = expected === 0 ? undefined : await poolDepth(census, q.queues);
    if (expected > 0 && !depth) {
      logger.warn({ queues: q.queues, expected }, 'queue does not exist; cannot tell which messages are lost');
      return [];
    }
    const missing = depth ? missingMessages(expected, depth) : 0;
    metrics.queueMissing.set({ pool: q.pool }, missing);
    const scan = shouldScan(missing, gate, now(), redriveAfterMs);
    gate.previouslyMissing = missing;
    if (!scan || signal?.aborted) return [];

    gate.lastScanAt = now();
    const scanStart = await databaseNow(db);
    logger.warn({ pool: q.pool, expected, missing, depth }, 'queue is short of messages; scanning it for the lost ones');
    const scanStartedAt = now();
    // A job's message may be in any class queue (its class decides which): all are read, and a
    // lost job is one that none of them names.
    const result = await scanAll(census, q.queues, { visibilitySeconds: SCAN_VISIBILITY_SECONDS, deadlineMs: SCAN_DEADLINE_MS, signal });
    const scanMs = now() - scanStartedAt;
    metrics.queueScans.inc({ pool: q.pool, outcome: result.complete ? 'complete' : 'incomplete' });
    if (!result.complete) {
      logger.warn({ pool: q.pool, received: result.received, scanMs }, 'queue scan incomplete; nothing re-sent');
      return [];
    }
    const criteria = { types: q.jobTypes, publishedBefore, untouchedBefore: new Date(scanStart.getTime() - redriveAfterMs), seen: [...result.jobIds] };
    const redriven: Array<{ id: string; previousStatus: string }> = [];
    for (;;) {
      if (signal?.aborted) break;
      const batch = await redriveLost(db, criteria, batchSize);
      redriven.push(...batch);
      if (batch.length < batchSize) break;
    }
    logger.warn({ pool: q.pool, received: result.received, scanMs, missing, redriven: redriven.length }, 'queue scanned; lost messages re-sent');
    return redriven;
  };

  return async (signal) => {
    const handedOffBefore = await watermark.advance();
    if (!handedOffBefore) return [];
    const publishedBefore = new Date(handedOffBefore.getTime() - redriveAfterMs);
    const redriven: Array<{ id: string; previousStatus: string }> = [];
    for (const q of queues) {
      if (signal?.aborted) break;
      redriven.push(...(await checkQueue(q, publishedBefore, signal)));
    }
    return redriven;
  };
}

import { Queue, Worker } from 'bullmq';
import { PgBoss, type WorkOptions } from 'pg-boss';
import type { JobTiming } from '../systems/system.js';

/** The peers as a team would wire them: one adapter per library, the same two operations. */
export type PeerKind = 'bullmq' | 'pgboss' | 'pgboss-tuned';

export interface PeerSettings {
  kind: PeerKind;
  /** redis://host:port/db for BullMQ, a Postgres URL for pg-boss */
  url: string;
  concurrency: number;
}

export interface Producer {
  add: (payload: Record<string, unknown>, runAt?: Date) => Promise<string>;
  close: () => Promise<void>;
}

export interface Consumer {
  close: () => Promise<void>;
}

export const QUEUE = 'bench';

function redisConnection(url: string) {
  const u = new URL(url);
  // BullMQ workers block on Redis; ioredis must not give up on those commands.
  return { host: u.hostname, port: Number(u.port), db: Number(u.pathname.slice(1) || 0), maxRetriesPerRequest: null };
}

/**
 * pg-boss 12 as its documentation suggests for each goal. Default: what `work()` does unasked, one
 * worker per unit of concurrency, batch 1, polling every 2 s (8 jobs/s for 16 workers), no
 * LISTEN/NOTIFY. Tuned: LISTEN/NOTIFY on (a job wakes a worker the moment it is created, polling
 * every 0.5 s as the floor), batches of 32 that are fetched again at once while they come back full
 * (`burstWhenBatchFull`), and the same number of workers.
 */
function bossWorkOptions(kind: PeerKind, concurrency: number) {
  return kind === 'pgboss-tuned'
    ? { loops: concurrency, listenNotify: true, work: { batchSize: 32, pollingIntervalSeconds: 0.5, notifyPollingIntervalSeconds: 0.5, burstWhenBatchFull: true } }
    : { loops: concurrency, listenNotify: false, work: { batchSize: 1, pollingIntervalSeconds: 2 } };
}

/** pg-boss's jobs that no loop has fetched yet: what a run too slow to finish leaves behind. */
export const BOSS_BACKLOG_SQL = `DELETE FROM pgboss.job WHERE name = '${QUEUE}' AND state IN ('created', 'retry')`;

export async function openProducer(settings: PeerSettings): Promise<Producer> {
  if (settings.kind === 'bullmq') {
    const queue = new Queue(QUEUE, { connection: redisConnection(settings.url) });
    await queue.waitUntilReady();
    return {
      add: async (payload, runAt) => {
        const delay = runAt ? Math.max(0, runAt.getTime() - Date.now()) : undefined;
        const job = await queue.add('noop', payload, delay === undefined ? {} : { delay });
        return String(job.id);
      },
      close: () => queue.close(),
    };
  }
  // Maintenance and schedules run in the worker's instance only.
  const boss = new PgBoss({ connectionString: settings.url, supervise: false, schedule: false, useListenNotify: bossWorkOptions(settings.kind, 1).listenNotify });
  boss.on('error', (error) => process.stderr.write(`pg-boss producer: ${String(error)}\n`));
  await boss.start();
  return {
    add: async (payload, runAt) => {
      const id = await boss.send(QUEUE, payload, runAt ? { startAfter: runAt } : {});
      if (!id) throw new Error('pg-boss refused the job');
      return id;
    },
    close: () => boss.stop({ graceful: false }),
  };
}

/** Starts consuming with a no-op handler; reports each finished job with the library's own timestamps. */
export async function startConsumer(settings: PeerSettings, done: (timing: JobTiming & { run: string }) => void): Promise<Consumer> {
  if (settings.kind === 'bullmq') {
    const worker = new Worker(QUEUE, async () => ({ ok: true }), { connection: redisConnection(settings.url), concurrency: settings.concurrency });
    worker.on('completed', (job) => {
      const delay = job.opts.delay ?? 0;
      done({ run: String(job.data.run), createdMs: job.timestamp, startedMs: job.processedOn ?? Number.NaN, dueMs: delay > 0 ? job.timestamp + delay : null });
    });
    worker.on('error', (error) => process.stderr.write(`bullmq worker: ${String(error)}\n`));
    await worker.waitUntilReady();
    return { close: () => worker.close() };
  }
  const { loops, listenNotify, work } = bossWorkOptions(settings.kind, settings.concurrency);
  const boss = new PgBoss({ connectionString: settings.url, useListenNotify: listenNotify });
  boss.on('error', (error) => process.stderr.write(`pg-boss worker: ${String(error)}\n`));
  await boss.start();
  await boss.createQueue(QUEUE, { notify: listenNotify });
  const options: WorkOptions & { includeMetadata: true } = { ...work, includeMetadata: true };
  for (let i = 0; i < loops; i += 1) {
    await boss.work<{ run: string }, unknown, typeof options>(QUEUE, options, async (jobs) => {
      for (const job of jobs) {
        const created = job.createdOn.getTime();
        const due = job.startAfter.getTime();
        done({ run: job.data.run, createdMs: created, startedMs: job.startedOn.getTime(), dueMs: due > created ? due : null });
      }
    });
  }
  return { close: () => boss.stop({ graceful: false }) };
}

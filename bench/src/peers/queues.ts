import { Queue, Worker } from 'bullmq';
import PgBoss from 'pg-boss';
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

const QUEUE = 'bench';

function redisConnection(url: string) {
  const u = new URL(url);
  // BullMQ workers block on Redis; ioredis must not give up on those commands.
  return { host: u.hostname, port: Number(u.port), db: Number(u.pathname.slice(1) || 0), maxRetriesPerRequest: null };
}

/**
 * pg-boss 10 (the newest release for Node 20; 11+ need Node 22) has no LISTEN/NOTIFY: workers poll.
 * Default: one work() loop per unit of concurrency, batchSize 1, polling every 2 s.
 * Tuned: the shortest polling interval it accepts (0.5 s) and batches of 16 per loop.
 */
function bossWorkOptions(kind: PeerKind, concurrency: number) {
  return kind === 'pgboss-tuned'
    ? { loops: Math.max(1, Math.ceil(concurrency / 4)), batchSize: 16, pollingIntervalSeconds: 0.5 }
    : { loops: concurrency, batchSize: 1, pollingIntervalSeconds: 2 };
}

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
  const boss = new PgBoss({ connectionString: settings.url, supervise: false, schedule: false });
  boss.on('error', (error) => process.stderr.write(`pg-boss producer: ${String(error)}\n`));
  await boss.start();
  return {
    add: async (payload, runAt) => {
      const id = await boss.send(QUEUE, payload, runAt ? { startAfter: runAt } : {});
      if (!id) throw new Error('pg-boss refused the job');
      return id;
    },
    close: () => boss.stop({ graceful: false, wait: false }),
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
  const boss = new PgBoss({ connectionString: settings.url });
  boss.on('error', (error) => process.stderr.write(`pg-boss worker: ${String(error)}\n`));
  await boss.start();
  await boss.createQueue(QUEUE);
  const { loops, batchSize, pollingIntervalSeconds } = bossWorkOptions(settings.kind, settings.concurrency);
  for (let i = 0; i < loops; i += 1) {
    await boss.work<{ run: string }>(QUEUE, { batchSize, pollingIntervalSeconds, includeMetadata: true }, async (jobs) => {
      for (const job of jobs) {
        const created = job.createdOn.getTime();
        const due = job.startAfter.getTime();
        done({ run: job.data.run, createdMs: created, startedMs: job.startedOn.getTime(), dueMs: due > created ? due : null });
      }
    });
  }
  return { close: () => boss.stop({ graceful: false, wait: false }) };
}

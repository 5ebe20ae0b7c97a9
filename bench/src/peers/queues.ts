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

export const QUEUE = 'bench';

function redisConnection(url: string) {
  const u = new URL(url);
  // BullMQ workers block on Redis; ioredis must not give up on those commands.
  return { host: u.hostname, port: Number(u.port), db: Number(u.pathname.slice(1) || 0), maxRetriesPerRequest: null };
}

/**
 * pg-boss 10 (the newest release for Node 20; 11+ need Node 22) has no LISTEN/NOTIFY: each work()
 * loop fetches up to batchSize jobs, hands them to its handler, then sleeps out the rest of the
 * polling interval. Its throughput is therefore capped at loops x batchSize / interval.
 * Default: one loop per unit of concurrency, batchSize 1, polling every 2 s (8 jobs/s for 16).
 * Tuned: the same loops, the shortest interval it accepts (0.5 s) and batches of 32 (1,024 jobs/s
 * for 16), so the cap sits above what one Postgres on this machine sustains.
 */
function bossWorkOptions(kind: PeerKind, concurrency: number) {
  return kind === 'pgboss-tuned'
    ? { loops: concurrency, batchSize: 32, pollingIntervalSeconds: 0.5 }
    : { loops: concurrency, batchSize: 1, pollingIntervalSeconds: 2 };
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

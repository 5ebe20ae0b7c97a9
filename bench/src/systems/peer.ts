import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.js';
import { freePort, waitForHttp } from '../../../test/support/service-process.js';
import { postgresServer, type Proc } from '../cpu.js';
import { BOSS_BACKLOG_SQL, type PeerKind } from '../peers/queues.js';
import { jobBody, type JobTiming, type System } from './system.js';

const BENCH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ROOT = path.resolve(BENCH, '..');
/** BullMQ gets a Redis database of its own, flushed before each run. */
const REDIS_DB = 7;

const DESCRIPTIONS: Record<PeerKind, string> = {
  bullmq: 'express POST /jobs -> BullMQ (Redis, appendonly everysec) -> worker',
  pgboss: 'express POST /jobs -> pg-boss 12 defaults (16 workers, batch 1, poll 2 s) -> worker',
  'pgboss-tuned': 'express POST /jobs -> pg-boss 12 tuned (16 workers, LISTEN/NOTIFY, batch 32 fetched again while full, poll 0.5 s) -> worker',
};

function spawnPeer(script: string, env: Record<string, string>): ChildProcess {
  const child = fork(path.join(BENCH, 'src/peers', script), [], {
    cwd: BENCH,
    execArgv: ['--import', 'tsx'],
    env: { PATH: process.env.PATH, NODE_OPTIONS: process.env.BENCH_PEER_NODE_OPTIONS ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => {
    output += c.toString();
    if (process.env.BENCH_VERBOSE) process.stderr.write(c);
  });
  child.once('exit', (code, signal) => {
    if (code !== 0 && code !== null && signal === null) process.stderr.write(`peer ${script} exited ${code}:\n${output.slice(-2000)}\n`);
  });
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/** A peer library behind the same express handler: worker process, server process, fresh store. */
export async function startPeer(kind: PeerKind, concurrency: number): Promise<System> {
  let database: TestDatabase | undefined;
  let url: string;
  let infraProcs: () => Promise<Proc[]>;
  if (kind === 'bullmq') {
    const port = Number(readFileSync(path.join(ROOT, '.run/redis/port'), 'utf8').trim());
    const redisPid = Number(readFileSync(path.join(ROOT, '.run/redis/redis.pid'), 'utf8').trim());
    url = `redis://127.0.0.1:${port}/${REDIS_DB}`;
    const redis = new Redis({ host: '127.0.0.1', port, db: REDIS_DB });
    await redis.flushdb();
    redis.disconnect();
    infraProcs = async () => [{ name: 'redis', pid: redisPid, role: 'infra' }];
  } else {
    database = await createTestDatabase();
    url = database.url;
    infraProcs = async () => [postgresServer(ROOT)];
  }

  const env = { PEER_KIND: kind, PEER_URL: url, PEER_CONCURRENCY: String(concurrency) };
  const byRun = new Map<string, JobTiming[]>();
  let completed = 0;
  const worker = spawnPeer('worker.ts', env);
  const port = await freePort();
  let server: ChildProcess | undefined;
  const stop = async () => {
    await Promise.all([worker, server].filter((c): c is ChildProcess => c !== undefined).map(stopChild));
    await database?.drop();
  };
  try {
    await new Promise<void>((resolve, reject) => {
      worker.on('message', (msg: unknown) => {
        if (msg === 'ready') return resolve();
        for (const [run, createdMs, startedMs, dueMs] of msg as Array<[string, number, number, number | null]>) {
          completed += 1;
          let list = byRun.get(run);
          if (!list) byRun.set(run, (list = []));
          list.push({ createdMs, startedMs, dueMs });
        }
      });
      worker.once('exit', (code) => reject(new Error(`${kind} worker exited ${code} while starting`)));
      setTimeout(() => reject(new Error(`${kind} worker not ready in 30 s`)), 30_000).unref();
    });
    server = spawnPeer('server.ts', { ...env, PORT: String(port) });
    await waitForHttp(`http://127.0.0.1:${port}/healthz`, 200, 30_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    name: kind,
    description: DESCRIPTIONS[kind],
    target: (run, runAt) => ({ url: `http://127.0.0.1:${port}/jobs`, headers: {}, body: (seq) => jobBody(run, seq, runAt?.(seq)) }),
    completed: async () => completed,
    timings: async (run) => byRun.get(run) ?? [],
    procs: async () => [
      { name: 'server', pid: server!.pid!, role: 'service' },
      { name: 'worker', pid: worker.pid!, role: 'service' },
      ...(await infraProcs()),
    ],
    consumers: async () => [worker.pid!],
    ...(database ? { discardBacklog: () => discardBossBacklog(url) } : {}),
    stop,
  };
}

async function discardBossBacklog(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(BOSS_BACKLOG_SQL)).rowCount ?? 0;
  } finally {
    await client.end();
  }
}

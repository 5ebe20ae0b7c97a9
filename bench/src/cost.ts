// Cost per job of Conveyor alone, outside `make bench`: the drain of `make bench` (step 2 + 5:
// COST_JOBS submitted as fast as accepted on 32 connections, until the last one finished; or, with
// COST_MODE=worker, only the worker draining them once they all wait in SQS), with
// what each job cost: CPU ms per process, and in Postgres the transactions, rows written and
// backend CPU of the run's own database only (the server is shared with whatever else runs on the
// machine, so its whole-server line counts other people's work too). Usage (infra up, services built):
//   COST_JOBS=5000 COST_LABEL=after node --import ./bench/node_modules/tsx/dist/loader.mjs bench/src/cost.ts
import { mkdirSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { infra } from '../../test/support/infra.js';
import { activityPerJob, activitySnapshot, cpuSeconds, perThousand, snapshot } from './cpu.js';
import { closedLoop, createPool, type LoadResult } from './load.js';
import { summariseProfiles } from './profile-summary.js';
import { startConveyor } from './systems/conveyor.js';

const jobs = Number(process.env.COST_JOBS ?? 5000);
const warmUp = Number(process.env.COST_WARMUP_JOBS ?? 1000);
const label = process.env.COST_LABEL ?? 'run';
/** COST_MODE=worker: only the draining of a backlog already in the pool's queues (the worker saturated), not its way there. */
const workerOnly = process.env.COST_MODE === 'worker';
if (!(jobs > 0 && warmUp >= 0)) throw new Error('COST_JOBS must be positive and COST_WARMUP_JOBS not negative');

const STATS_FLUSH_MS = 11_000;
// COST_PROFILE=1: a CPU profile of every service, as BENCH_PROFILE=1 (profile-preload.mjs), summarised at the end.
const profileDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '../results/profiles');
const profile = process.env.COST_PROFILE === '1';
if (profile) {
  rmSync(profileDir, { recursive: true, force: true });
  mkdirSync(profileDir, { recursive: true });
}
const preload = path.join(path.dirname(fileURLToPath(import.meta.url)), 'profile-preload.mjs');
const system = await startConveyor({
  concurrency: Number(process.env.BENCH_CONCURRENCY ?? 16),
  serviceEnv: profile ? { NODE_OPTIONS: `--import ${preload}`, BENCH_PROFILE_DIR: profileDir } : {},
});
if (!system.database) throw new Error('the system does not say which database it uses');
const database = system.database;
const admin = new pg.Pool({ connectionString: infra.postgresUrl, max: 1 });
const own = new pg.Pool({ connectionString: Object.assign(new URL(infra.postgresUrl), { pathname: `/${database}` }).toString(), max: 1 });

/** Rows written per table (heap-only updates apart: they touch no index). */
async function tableWrites(): Promise<Map<string, { ins: number; upd: number; hot: number; del: number }>> {
  const { rows } = await own.query<{ relname: string; ins: string; upd: string; hot: string; del: string }>(
    'SELECT relname, n_tup_ins AS ins, n_tup_upd AS upd, n_tup_hot_upd AS hot, n_tup_del AS del FROM pg_stat_user_tables',
  );
  return new Map(rows.map((r) => [r.relname, { ins: Number(r.ins), upd: Number(r.upd), hot: Number(r.hot), del: Number(r.del) }]));
}

/** Transactions and row changes of the run's database, and the CPU of its backends alive now. */
async function pgCounters() {
  const { rows } = await admin.query<{ xacts: string; inserted: string; updated: string; deleted: string }>(
    `SELECT xact_commit + xact_rollback AS xacts, tup_inserted AS inserted, tup_updated AS updated, tup_deleted AS deleted
       FROM pg_stat_database WHERE datname = $1`,
    [database],
  );
  const backends = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [database]);
  const cpu = new Map(backends.rows.map((b) => [b.pid, cpuSeconds(b.pid)]));
  const row = rows[0]!;
  return {
    tables: await tableWrites(), xacts: Number(row.xacts), inserted: Number(row.inserted), updated: Number(row.updated), deleted: Number(row.deleted), cpu };
}

/** The worker's SQS calls by operation and the messages its receives brought, from its /metrics (absent in builds without them). */
async function sqsCalls(): Promise<Map<string, number>> {
  const url = system.metricsUrl?.('worker');
  const calls = new Map<string, number>();
  if (!url) return calls;
  const text = await (await fetch(url)).text();
  for (const match of text.matchAll(/^conveyor_worker_sqs_requests_total\{[^}]*operation="(\w+)"[^}]*\} (\S+)$/gm)) calls.set(match[1]!, Number(match[2]));
  const received = /^conveyor_worker_sqs_received_messages_total(?:\{[^}]*\})? (\S+)$/m.exec(text);
  if (received) calls.set('messages received', Number(received[1]));
  return calls;
}

try {
  const pool = createPool(system.target('x').url, 32);
  let seq = 0;
  const drain = async (run: string, count: number) => {
    const base = await system.completed();
    const result = await closedLoop(pool, system.target(run), 32, { requests: count }, seq);
    seq += result.sent;
    while ((await system.completed()) < base + result.ok) await sleep(50);
    return result;
  };
  if (warmUp > 0) await drain('warm-up', warmUp);
  // A backend flushes its pg_stat counters at most once a second, and an idle one within 10 s
  // (Postgres 15): the pause lets the warm-up's reach the view before the snapshot.
  await sleep(STATS_FLUSH_MS);
  const load = os.loadavg()[0]!;
  const procs = await system.procs();
  const before = { cpu: snapshot(procs), activity: activitySnapshot(procs), pg: await pgCounters(), sqs: await sqsCalls() };
  let t0 = performance.now();
  let result: LoadResult;
  if (workerOnly) {
    // The backlog first, with the worker stopped, all of it in the pool's queues; measured from the worker's continuing.
    const worker = procs.find((p) => p.name === 'worker')!.pid;
    const base = await system.completed();
    // Its counters stand still while it is stopped, and its /metrics would not answer: read now.
    const calls = await sqsCalls();
    process.kill(worker, 'SIGSTOP');
    try {
      result = await closedLoop(pool, system.target('cost'), 32, { requests: jobs }, seq);
      while ((await system.queued!()) < result.ok) await sleep(200);
      await sleep(STATS_FLUSH_MS);
      Object.assign(before, { cpu: snapshot(procs), activity: activitySnapshot(procs), pg: await pgCounters(), sqs: calls });
      t0 = performance.now();
    } finally {
      process.kill(worker, 'SIGCONT');
    }
    while ((await system.completed()) < base + result.ok) await sleep(50);
  } else {
    result = await drain('cost', jobs);
  }
  const seconds = (performance.now() - t0) / 1000;
  const after = { cpu: snapshot(procs), activity: activitySnapshot(procs), sqs: await sqsCalls() };
  await sleep(STATS_FLUSH_MS);
  const pgAfter = await pgCounters();
  const n = result.ok;
  const cpu = perThousand(before.cpu, after.cpu, n);
  const activity = activityPerJob(before.activity, after.activity, n);
  // Backends alive at the end, counted from the start or from their birth; one that closed in between is missed.
  let backendSeconds = 0;
  for (const [pid, end] of pgAfter.cpu) backendSeconds += Math.max(0, end - (before.pg.cpu.get(pid) ?? 0));
  const per = (value: number) => Math.round((value / n) * 1000) / 1000;
  const figures = {
    label,
    mode: workerOnly ? 'worker drains a backlog in SQS' : 'drain end to end',
    jobs: n,
    errors: result.errors,
    drainedPerSecond: Math.round(n / seconds),
    loadAverageAtStart: Math.round(load * 10) / 10,
    loadAverageAtEnd: Math.round(os.loadavg()[0]! * 10) / 10,
    cpuMsPerJob: cpu,
    postgres: {
      cpuMsPerJobOwnBackends: per(backendSeconds * 1000),
      transactionsPerJob: per(pgAfter.xacts - before.pg.xacts),
      rowsInsertedPerJob: per(pgAfter.inserted - before.pg.inserted),
      rowsUpdatedPerJob: per(pgAfter.updated - before.pg.updated),
      rowsDeletedPerJob: per(pgAfter.deleted - before.pg.deleted),
      perTable: Object.fromEntries(
        [...pgAfter.tables].flatMap(([table, end]) => {
          const start = before.pg.tables.get(table) ?? { ins: 0, upd: 0, hot: 0, del: 0 };
          const d = { inserted: per(end.ins - start.ins), updated: per(end.upd - start.upd), heapOnly: per(end.hot - start.hot), deleted: per(end.del - start.del) };
          return d.inserted + d.updated + d.deleted > 0 ? [[table, d]] : [];
        }),
      ),
    },
    workerSqsPerJob: Object.fromEntries([...after.sqs].map(([operation, end]) => [operation, per(end - (before.sqs.get(operation) ?? 0))])),
    syscallsPerJob: Object.fromEntries(Object.entries(activity).map(([name, a]) => [name, { reads: a.reads, writes: a.writes }])),
  };
  process.stdout.write(`${JSON.stringify(figures)}\n`);
  await pool.close();
} finally {
  await Promise.all([admin.end(), own.end()]);
  await system.stop();
}
if (profile) process.stdout.write(summariseProfiles(profileDir));

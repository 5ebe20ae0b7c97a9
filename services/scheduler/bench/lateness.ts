/**
 * Lateness benchmark of the delayed-job dispatcher (not a test): 10,000 jobs due across 60 s,
 * created through createJob with runAt in their own database, dispatched by the same modules the
 * scheduler wires in main.ts. Lateness = the dispatch time the claim statement stamps
 * (clock_timestamp() at the UPDATE) minus run_at, both by the database clock.
 *
 *   npx tsc -p services/scheduler/bench && node services/scheduler/dist/bench/bench/lateness.js
 *   env: BENCH_DATABASE_URL (admin URL, default the local dev Postgres), BENCH_JOBS, BENCH_SPREAD_MS, BENCH_LEAD_MS
 */
import pg from 'pg';
import { createLogger, createPool } from '@conveyor/platform';
import { createJob, migrateJobsSchema, startListener } from '@conveyor/jobs';
import { dispatchDueJobs, peekNextDue } from '../src/due-jobs.repo.js';
import { startDispatcher } from '../src/dispatcher.js';

const adminUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://conveyor:conveyor@127.0.0.1:55432/conveyor';
const JOBS = Number(process.env.BENCH_JOBS ?? 10_000);
const SPREAD_MS = Number(process.env.BENCH_SPREAD_MS ?? 60_000);
const LEAD_MS = Number(process.env.BENCH_LEAD_MS ?? 60_000);
const out = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  const name = `bench_lateness_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const pool = createPool({ connectionString: url.toString(), max: 10 });
  const logger = createLogger({ service: 'bench', level: 'warn' });
  try {
    await migrateJobsSchema(pool);
    const dispatcher = startDispatcher({
      claim: () => dispatchDueJobs(pool, 500),
      peek: () => peekNextDue(pool),
      batchSize: 500,
      safetyIntervalMs: 5_000,
      logger,
    });
    const listener = startListener({ pool, channel: 'conveyor_scheduled', logger, onWake: () => dispatcher.notify() });

    const t0 = Date.now() + LEAD_MS;
    const insertStart = Date.now();
    let alreadyDue = 0;
    // In run_at order, like a steady arrival of delayed jobs; the lead keeps inserts ahead of due times.
    for (let i = 0; i < JOBS; i += 50) {
      const chunk = await Promise.all(
        Array.from({ length: Math.min(50, JOBS - i) }, (_, k) =>
          createJob(pool, { tenant: 'bench', owner: 'bench', type: 'noop', payload: {}, runAt: new Date(t0 + Math.floor(((i + k) * SPREAD_MS) / JOBS)) }),
        ),
      );
      alreadyDue += chunk.filter((o) => o.kind === 'created' && o.status !== 'scheduled').length;
    }
    out(`inserted ${JOBS} jobs in ${Date.now() - insertStart} ms (${alreadyDue} were already due when inserted and are excluded)`);

    for (;;) {
      const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs WHERE status = 'scheduled'`);
      if (rows[0]!.n === 0) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    await dispatcher.stop();
    await listener.stop();

    const { rows } = await pool.query<{ ms: number }>(
      `SELECT extract(epoch FROM ((e.data->>'dispatchedAt')::timestamptz - j.run_at)) * 1000 AS ms
         FROM jobs j JOIN job_events e ON e.job_id = j.id AND e.type = 'queued' ORDER BY 1`,
    );
    const ms = rows.map((r) => Number(r.ms));
    const q = (p: number) => ms[Math.min(ms.length - 1, Math.ceil(p * ms.length) - 1)]!;
    const early = ms.filter((v) => v < 0).length;
    out(`dispatched ${ms.length}: lateness p50 ${q(0.5).toFixed(2)} ms, p99 ${q(0.99).toFixed(2)} ms, max ${q(1).toFixed(2)} ms; early: ${early}`);
  } finally {
    await pool.end();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error instanceof Error ? error.stack : error)}\n`);
  process.exit(1);
});

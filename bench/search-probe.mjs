/* global process, console, URL */
/* eslint-disable no-console -- a probe prints its figures */
// The search (GET /jobs) on a large jobs table: p50/p99 of one filtered page per filter, as the api
// builds the statement (services/api/dist). Not part of `make bench`: run after `make build` with
//   node bench/search-probe.mjs [rows]     (default 1,000,000; a scratch database, dropped after)
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { migrateJobsSchema } from '@conveyor/jobs';
import { searchJobs } from '../services/api/dist/search/queries.js';

const rows = Number(process.argv[2] ?? 1_000_000);
const base = process.env.TEST_DATABASE_URL ?? 'postgres://conveyor:conveyor@127.0.0.1:55432/conveyor';
const name = `search_probe_${process.pid}`;
const admin = new pg.Client({ connectionString: base });
await admin.connect();
await admin.query(`CREATE DATABASE ${name}`);
const url = new URL(base);
url.pathname = `/${name}`;
const pool = new pg.Pool({ connectionString: url.toString(), max: 2 });
try {
  await migrateJobsSchema(pool);
  const started = performance.now();
  // 100 tenants, 4 types, every status, tags (env:prod on 1 job in 10, rare:N on 1 in 1,000), 30 days of creation times, all drawn at random.
  await pool.query(
    `INSERT INTO jobs (id, tenant, owner, type, payload, status, created_at, updated_at, finished_at, error, tags, idempotency_key)
     SELECT gen_random_uuid(), 't' || floor(random() * 100), 'u', (ARRAY['noop','sleep','report.generate','points.grant'])[1 + floor(random() * 4)::int], '{}',
            s.status, now() - (i::float8 / $1) * interval '30 days', now(), now(), CASE WHEN s.status = 'failed' THEN 'boom' END,
            ARRAY['team:' || floor(random() * 7)] || CASE WHEN random() < 0.1 THEN ARRAY['env:prod'] ELSE ARRAY['env:dev'] END
              || CASE WHEN random() < 0.001 THEN ARRAY['rare:' || floor(random() * 3)] ELSE ARRAY[]::text[] END,
            CASE WHEN i % 50 = 0 THEN 'key-' || i END
       FROM generate_series(1, $1) i,
            LATERAL (SELECT (ARRAY['queued','processing','success','success','success','failed','cancelled','retrying','scheduled'])[1 + floor(random() * 9 + i * 0)::int] AS status) s`,
    [rows],
  );
  await pool.query('ANALYZE jobs');
  console.log(`${rows} rows loaded and analyzed in ${Math.round((performance.now() - started) / 1000)} s`);
  const week = new Date(Date.now() - 7 * 86_400_000);
  const searches = {
    'tenant, newest first': { tenant: 't7' },
    'tenant, status failed': { tenant: 't7', statuses: ['failed'] },
    'tenant, tags env:prod': { tenant: 't7', tags: ['env:prod'] },
    'tenant, rare tag + status': { tenant: 't0', tags: ['rare:1'], statuses: ['success'] },
    'tenant, tag nobody has': { tenant: 't7', tags: ['env:none'] },
    'tenant, type + last 7 days': { tenant: 't7', type: 'sleep', from: week },
    'tenant, oldest first': { tenant: 't7', ascending: true },
    'admin, idempotency key': { tenant: null, idempotencyKey: 'key-50050' },
    'admin, status failed': { tenant: null, statuses: ['failed'] },
    'admin, rare tag': { tenant: null, tags: ['rare:2'] },
  };
  console.log('search (page of 50)             p50 ms   p99 ms   rows');
  for (const [label, filter] of Object.entries(searches)) {
    const search = { ascending: false, limit: 50, ...filter };
    // Page 5 of each: the cursor path, which every page after the first takes.
    let after;
    for (let page = 0; page < 4; page++) after = (await searchJobs(pool, { ...search, after })).next ?? after;
    const times = [];
    let found = 0;
    for (let i = 0; i < 100; i++) {
      const t = performance.now();
      found = (await searchJobs(pool, { ...search, after })).rows.length;
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    console.log(`${label.padEnd(32)}${times[49].toFixed(2).padStart(7)}${times[98].toFixed(2).padStart(9)}${String(found).padStart(7)}`);
  }
} finally {
  await pool.end();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}

// GET /jobs at scale, outside `make bench`: the api's own search statement (services/api
// search/queries.ts) against a jobs table of SEARCH_ROWS rows (default 10 million) with every index
// the migrations make, page after page, per filter shape: p50/p99/max and the plan's index.
// Usage (Postgres up, services built):
//   SEARCH_ROWS=10000000 node --import ./bench/node_modules/tsx/dist/loader.mjs bench/src/search-scale.ts
// The seeded database (conveyor_search_<rows>) is kept, so a second run only queries; SEARCH_DROP=1 drops it after.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { migrateJobsSchema } from '@conveyor/jobs';
import { leadingTag, searchJobs, searchJobsQuery, type JobSearch } from '../../services/api/dist/search/queries.js';
import { infra } from '../../test/support/infra.js';
import { percentile } from './stats.js';

const ROWS = Number(process.env.SEARCH_ROWS ?? 10_000_000);
const QUERIES = Number(process.env.SEARCH_QUERIES ?? 200);
const CHUNK = 250_000;
const PAGE = 50;
if (!(ROWS >= CHUNK && QUERIES > 0)) throw new Error(`SEARCH_ROWS must be at least ${CHUNK} and SEARCH_QUERIES positive`);

const log = (line: string) => process.stdout.write(`${line}\n`);
const database = `conveyor_search_${ROWS}`;
const adminUrl = infra.postgresUrl;
const url = Object.assign(new URL(adminUrl), { pathname: `/${database}` }).toString();

/**
 * One chunk of history: half the rows belong to one large tenant, the rest to 200 small ones; 8
 * types; mostly finished (85% success, 7% failed, 3% cancelled) with some waiting; created over the
 * last 30 days; 40% carry tags (a customer label of 1,000, and an environment label on half of those);
 * 20% an idempotency key.
 */
const SEED_CHUNK = `
  INSERT INTO jobs (id, tenant, owner, type, payload, status, attempts, idempotency_key, tags,
                    created_at, updated_at, started_at, finished_at, error)
  SELECT gen_random_uuid(), r.tenant, 'seed', r.type, '{}', r.status, 1,
         CASE WHEN r.keyed THEN 'key-' || r.g END, r.tags,
         r.created_at, r.created_at, r.created_at,
         CASE WHEN r.status IN ('success', 'failed', 'cancelled') THEN r.created_at + interval '1 second' END,
         CASE WHEN r.status = 'failed' THEN 'handler failed' END
    FROM (SELECT x.g,
                 CASE WHEN x.t < 0.5 THEN 'big' ELSE 'tenant-' || floor(x.t * 1000)::int % 200 END AS tenant,
                 (ARRAY['noop','report.generate','points.grant','email.send','image.resize','billing.invoice-send',
                        'text.word-count','crm.sync'])[1 + floor(x.ty * 8)::int] AS type,
                 CASE WHEN x.s < 0.85 THEN 'success' WHEN x.s < 0.92 THEN 'failed' WHEN x.s < 0.95 THEN 'cancelled'
                      WHEN x.s < 0.98 THEN 'queued' WHEN x.s < 0.99 THEN 'processing' ELSE 'scheduled' END AS status,
                 CASE WHEN x.k < 0.6 THEN '{}'::text[]
                      WHEN x.k < 0.8 THEN ARRAY['customer-' || floor(x.c * 1000)::int]
                      ELSE ARRAY['customer-' || floor(x.c * 1000)::int, 'env-prod'] END AS tags,
                 x.i < 0.2 AS keyed,
                 now() - x.a * interval '30 days' AS created_at
            -- Each row draws its own numbers: random() in this select list runs once per row.
            FROM (SELECT g, random() AS t, random() AS ty, random() AS s, random() AS k, random() AS c,
                         random() AS i, random() AS a
                    FROM generate_series($1::bigint, $2::bigint) g) x) r`;

async function prepare(): Promise<pg.Pool> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  const exists = (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database])).rowCount === 1;
  if (!exists) await admin.query(`CREATE DATABASE ${database}`);
  await admin.end();
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  await migrateJobsSchema(pool);
  const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM jobs');
  let have = Number(rows[0]!.n);
  if (have >= ROWS) {
    log(`search-scale: ${database} already holds ${have.toLocaleString('en')} jobs`);
    return pool;
  }
  const started = Date.now();
  for (; have < ROWS; have += CHUNK) {
    await pool.query(SEED_CHUNK, [have + 1, Math.min(have + CHUNK, ROWS)]);
    log(`  seeded ${Math.min(have + CHUNK, ROWS).toLocaleString('en')} rows (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  }
  await pool.query('VACUUM ANALYZE jobs');
  log(`search-scale: seeded ${ROWS.toLocaleString('en')} jobs with every index in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return pool;
}

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;
const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000);
const customer = () => `customer-${Math.floor(Math.random() * 1000)}`;
const smallTenant = () => `tenant-${Math.floor(Math.random() * 200)}`;
const types = ['noop', 'report.generate', 'points.grant', 'email.send', 'image.resize', 'billing.invoice-send', 'text.word-count', 'crm.sync'];

/** A filter shape a user of GET /jobs sends, with fresh values each time. */
interface Shape {
  name: string;
  search: () => Omit<JobSearch, 'limit' | 'ascending'> & { ascending?: boolean };
  /** Pages to walk with the cursor before timing (0: the first page). */
  deep?: number;
}

const SHAPES: Shape[] = [
  { name: 'large tenant, newest first', search: () => ({ tenant: 'big' }) },
  { name: 'large tenant, status failed', search: () => ({ tenant: 'big', statuses: ['failed'] }) },
  { name: 'large tenant, one type', search: () => ({ tenant: 'big', type: pick(types) }) },
  { name: 'large tenant, common tag (env-prod)', search: () => ({ tenant: 'big', tags: ['env-prod'] }) },
  { name: 'large tenant, rare tag (1 of 1,000 customers)', search: () => ({ tenant: 'big', tags: [customer()] }) },
  { name: 'large tenant, one-hour window', search: () => ({ tenant: 'big', from: daysAgo(10), to: new Date(daysAgo(10).getTime() + 3_600_000) }) },
  { name: 'large tenant, failed + type + tag', search: () => ({ tenant: 'big', statuses: ['failed'], type: pick(types), tags: ['env-prod'] }) },
  { name: 'large tenant, failed + rare tag', search: () => ({ tenant: 'big', statuses: ['failed'], tags: [customer()] }) },
  { name: 'large tenant, rare tag, 20th page (cursor)', search: () => ({ tenant: 'big', tags: [customer()] }), deep: 19 },
  { name: 'large tenant, oldest first', search: () => ({ tenant: 'big', ascending: true }) },
  { name: 'large tenant, 20th page (cursor)', search: () => ({ tenant: 'big', statuses: ['success'] }), deep: 19 },
  { name: 'small tenant, waiting (queued)', search: () => ({ tenant: smallTenant(), statuses: ['queued'] }) },
  { name: 'small tenant, rare tag', search: () => ({ tenant: smallTenant(), tags: [customer()] }) },
  { name: 'idempotency key', search: () => ({ tenant: 'big', idempotencyKey: `key-${1 + Math.floor(Math.random() * ROWS)}` }) },
  { name: 'admin: failed, all tenants', search: () => ({ tenant: null, statuses: ['failed'] }) },
  { name: 'admin: rare tag, all tenants', search: () => ({ tenant: null, tags: [customer()] }) },
];

/** The index names the plan reads, for the table. */
async function indexesOf(pool: pg.Pool, search: JobSearch): Promise<string> {
  const { text, values } = searchJobsQuery(search, await leadingTag(pool, search));
  const { rows } = await pool.query(`EXPLAIN (FORMAT JSON) ${text}`, values);
  const names = new Set<string>();
  const walk = (node: { 'Index Name'?: string; 'Node Type': string; Plans?: unknown[] }) => {
    if (node['Index Name']) names.add(node['Index Name']);
    else if (node['Node Type'] === 'Seq Scan') names.add('SEQ SCAN');
    for (const child of node.Plans ?? []) walk(child as typeof node);
  };
  walk(rows[0]['QUERY PLAN'][0].Plan);
  return [...names].join(' + ');
}

const pool = await prepare();
try {
  const results = [];
  for (const shape of SHAPES) {
    const timings: number[] = [];
    let rowsSeen = 0;
    let plan = '';
    for (let i = 0; i < QUERIES; i++) {
      const base = shape.search();
      let search: JobSearch = { ascending: false, limit: PAGE, ...base };
      for (let page = 0; page < (shape.deep ?? 0); page++) {
        const { next } = await searchJobs(pool, search);
        if (!next) break;
        search = { ...search, after: next };
      }
      if (i === 0) plan = await indexesOf(pool, search);
      const started = process.hrtime.bigint();
      const { rows } = await searchJobs(pool, search);
      timings.push(Number(process.hrtime.bigint() - started) / 1e6);
      rowsSeen += rows.length;
    }
    const figure = {
      shape: shape.name,
      p50Ms: percentile(timings, 50),
      p99Ms: percentile(timings, 99),
      maxMs: Math.max(...timings),
      meanRows: rowsSeen / QUERIES,
      plan,
    };
    results.push(figure);
    log(`  ${shape.name.padEnd(46)} p50 ${figure.p50Ms.toFixed(1).padStart(7)} ms  p99 ${figure.p99Ms.toFixed(1).padStart(7)} ms  max ${figure.maxMs.toFixed(1).padStart(7)} ms  rows ${figure.meanRows.toFixed(0).padStart(3)}  ${plan}`);
  }
  const out = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../results/search-scale.json');
  writeFileSync(out, `${JSON.stringify({ rows: ROWS, queriesPerShape: QUERIES, pageSize: PAGE, at: new Date().toISOString(), results }, null, 2)}\n`);
  log(`wrote ${out}`);
} finally {
  await pool.end();
  if (process.env.SEARCH_DROP === '1') {
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${database}`);
    await admin.end();
  }
}

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countAhead, fetchPoolStats, type Queryable } from '@conveyor/jobs';
import { dispatchDueJobs, peekNextDue } from '../../services/scheduler/src/due-jobs.repo.js';
import { countAwaitingDelivery, countUnpublished, recoverStaleProcessing, redriveLost } from '../../services/scheduler/src/stale-jobs.repo.js';
import { readJobBacklog } from '../../services/scheduler/src/backlog.repo.js';
import { poolJobNumbers } from '../../services/api/src/pools/queries.js';
import { readTypeLoads } from '../../services/api/src/pools/scaling.js';
import { capturedStatements, explainScans, seededDatabase } from '../support/plans.js';

const HISTORY = 300_000;

/**
 * The statements that run every few seconds for as long as the system runs, whatever its history:
 * the scheduler's due-job dispatch and peek, the reconciler's stale-job recovery, the lost-message
 * check, the backlog gauges, and the api's pool numbers, Retry-After inputs and KEDA's time-to-drain poll. Against a history
 * of finished jobs many times larger than what waits, each must read what waits through a partial
 * index (or the finished rows through jobs_finished_recent, whose range is the last minutes) and
 * never walk the jobs table: their cost then follows the backlog, not the history (issue 27).
 */
describe('periodic queries against a long history, real Postgres', () => {
  let database: Awaited<ReturnType<typeof seededDatabase>>;

  /** The reads of the jobs table each statement the function sends would make. */
  const plansOf = async (run: (db: Queryable) => Promise<unknown>) => {
    const statements = await capturedStatements(run);
    expect(statements.length).toBeGreaterThan(0);
    return Promise.all(statements.map((s) => explainScans(database.pool, s.text, s.values)));
  };
  const readsOfJobs = (plan: string[]) => plan.filter((s) => / on jobs$/.test(s) || / jobs_\w+/.test(s));
  const tableScans = (plan: string[]) => plan.filter((s) => s === 'Seq Scan on jobs');

  beforeAll(async () => {
    // A month of finished jobs with three events each, then what a busy moment leaves waiting:
    // queued, retrying, scheduled and processing jobs, a few thousand in all; analysed like that.
    database = await seededDatabase(`
      INSERT INTO jobs (id, tenant, owner, type, payload, status, attempts, published_at, created_at, updated_at, started_at, finished_at)
      SELECT gen_random_uuid(), 'tenant-' || (g % 50), 'o', (ARRAY['noop', 'sleep', 'report.generate'])[1 + g % 3], '{}',
             (ARRAY['success', 'success', 'success', 'failed', 'cancelled'])[1 + g % 5], 1, t, t, t, t, t + interval '1 second'
        FROM generate_series(1, ${HISTORY}) g, LATERAL (SELECT now() - (g % 43200) * interval '1 minute' AS t) at;
      INSERT INTO job_events (job_id, type, published_at)
      SELECT id, kind, now() FROM jobs, unnest(ARRAY['created', 'started', 'succeeded']) AS kind;
      INSERT INTO jobs (id, tenant, owner, type, payload, status, published_at)
      SELECT gen_random_uuid(), 'tenant-' || (g % 50), 'o', 'noop', '{}', 'queued', CASE WHEN g % 10 > 0 THEN now() END FROM generate_series(1, 3000) g;
      INSERT INTO jobs (id, tenant, owner, type, payload, status, attempts, run_at, published_at)
      SELECT gen_random_uuid(), 't', 'o', 'noop', '{}', 'retrying', 1, now() + interval '1 minute', now() FROM generate_series(1, 300);
      INSERT INTO jobs (id, tenant, owner, type, payload, status, run_at)
      SELECT gen_random_uuid(), 't', 'o', 'sleep', '{}', 'scheduled', now() + g * interval '1 second' FROM generate_series(1, 1000) g;
      INSERT INTO jobs (id, tenant, owner, type, payload, status, attempts, published_at, locked_by, heartbeat_at, started_at)
      SELECT gen_random_uuid(), 't', 'o', 'sleep', '{}', 'processing', 1, now(), 'w', now(), now() FROM generate_series(1, 400);
      ANALYZE jobs;
      ANALYZE job_events;`);
  }, 300_000);

  afterAll(() => database?.drop());

  it('dispatches due jobs and peeks at the next one through jobs_due', async () => {
    for (const plan of await plansOf(async (db) => {
      await dispatchDueJobs(db, 500, 1_000);
      await peekNextDue(db, 1_000);
    })) {
      expect(tableScans(plan), plan.join('\n')).toEqual([]);
      expect(readsOfJobs(plan).some((s) => s.includes('jobs_due'))).toBe(true);
    }
  });

  it('recovers stale processing jobs through jobs_processing_heartbeat', async () => {
    const [plan] = await plansOf((db) => recoverStaleProcessing(db, 30, 100));
    expect(tableScans(plan!), plan!.join('\n')).toEqual([]);
    expect(readsOfJobs(plan!).some((s) => s.includes('jobs_processing_heartbeat'))).toBe(true);
  });

  it('checks for lost messages and counts the relay backlog through the waiting jobs partial indexes', async () => {
    const before = new Date(Date.now() - 60_000);
    const plans = await plansOf(async (db) => {
      await countAwaitingDelivery(db, ['noop', 'sleep'], before);
      await redriveLost(db, { types: ['noop', 'sleep'], publishedBefore: before, untouchedBefore: before, seen: [] }, 100);
      await countUnpublished(db);
    });
    for (const plan of plans) expect(tableScans(plan), plan.join('\n')).toEqual([]);
    expect(readsOfJobs(plans[2]!).some((s) => /jobs_unpublished/.test(s))).toBe(true);
  });

  it("reads the backlog gauges and a pool's numbers from the waiting, processing and recently finished jobs only", async () => {
    const plans = await plansOf(async (db) => {
      await readJobBacklog(db);
      await poolJobNumbers(db, ['noop', 'sleep', 'points.grant'], null);
      await poolJobNumbers(db, ['noop', 'sleep', 'points.grant'], 'tenant-7');
      await fetchPoolStats(db, ['noop', 'sleep', 'points.grant']);
      await countAhead(db, ['noop', 'sleep', 'points.grant'], new Date());
      // KEDA's time-to-drain poll (GET /scaling/pools/{name}), every few seconds per pool.
      await readTypeLoads(db, ['noop', 'sleep', 'points.grant']);
    });
    for (const plan of plans) expect(tableScans(plan), plan.join('\n')).toEqual([]);
    // The finished side of the pool's numbers: only the last minutes of jobs_finished_recent.
    expect(readsOfJobs(plans[1]!).some((s) => s.includes('jobs_finished_recent') || s.includes('jobs_finished'))).toBe(true);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, createPool, Registry, type Pool } from '@conveyor/platform';
import { createJob, migrateJobsSchema } from '@conveyor/jobs';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.js';
import { createSchedulerMetrics } from '../src/metrics.js';
import { ScheduleController, type ScheduleStatusSink } from '../src/schedules/controller.js';
import type { ScheduleEvent } from '../src/schedules/decide.js';
import type { JobScheduleObject, JobScheduleStatus } from '../src/schedules/job-schedule.js';
import { scheduleJobsRepo } from '../src/schedules/schedule-jobs.repo.js';

const logger = createLogger({ service: 'scheduler-test', level: 'silent' });

/** Records what the controller would send to the API server. */
function recordingSink() {
  const statuses: JobScheduleStatus[] = [];
  const events: ScheduleEvent[] = [];
  const sink: ScheduleStatusSink = {
    writeStatus: async (_obj, status) => void statuses.push(status),
    event: async (_obj, event) => void events.push(event),
  };
  return { sink, statuses, events };
}

describe('ScheduleController against real Postgres (test clock, recorded status sink)', () => {
  let db: TestDatabase;
  let pool: Pool;
  const now = new Date('2030-01-01T10:00:05Z');
  const controllers: ScheduleController[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 5 });
    await migrateJobsSchema(pool);
  });
  afterAll(async () => {
    await Promise.all(controllers.map((c) => c.stop()));
    await pool.end();
    await db.drop();
  });

  function controller(sink: ScheduleStatusSink) {
    const c = new ScheduleController({ jobs: scheduleJobsRepo(pool), sink, logger, metrics: createSchedulerMetrics(new Registry()), defaultTenant: 'system', now: () => now });
    controllers.push(c);
    return c;
  }

  function schedule(name: string, policy: string, lastJobId: string): JobScheduleObject {
    return {
      metadata: { name, namespace: 'ops', uid: `uid-${name}`, generation: 2, creationTimestamp: '2030-01-01T00:00:00Z', labels: { 'conveyor.dev/tenant': 'acme' } },
      spec: { schedule: '0 * * * *', jobType: 'noop', payload: {}, concurrencyPolicy: policy },
      status: { lastScheduleTime: '2030-01-01T09:00:00.000Z', lastJobId },
    };
  }

  it('Replace cancels the previous unfinished job, fires the due time once, and writes the status', async () => {
    const previous = await createJob(pool, { tenant: 'acme', owner: 'x', type: 'noop', payload: {} });
    const { sink, statuses, events } = recordingSink();
    const c = controller(sink);
    c.upsert(schedule('replace', 'Replace', previous.jobId));
    await c.idle();
    c.upsert(schedule('replace', 'Replace', previous.jobId)); // a resync with the stale object
    await c.idle();

    const { rows: prev } = await pool.query('SELECT status, cancel_requested FROM jobs WHERE id = $1', [previous.jobId]);
    expect(prev[0]).toEqual({ status: 'cancelled', cancel_requested: true });
    const { rows: fired } = await pool.query(`SELECT id, tenant, owner FROM jobs WHERE idempotency_key = 'schedule:uid-replace:2030-01-01T10:00:00.000Z'`);
    expect(fired).toHaveLength(1);
    expect(fired[0]).toMatchObject({ tenant: 'acme', owner: 'schedule:ops/replace' });
    expect(statuses.at(-1)).toMatchObject({
      lastScheduleTime: '2030-01-01T10:00:00.000Z',
      nextScheduleTime: '2030-01-01T11:00:00.000Z',
      lastJobId: fired[0].id,
      observedGeneration: 2,
    });
    expect(events.filter((e) => e.reason === 'Fired')).toHaveLength(1);
  });

  it('Forbid skips while the previous job runs and records why', async () => {
    const previous = await createJob(pool, { tenant: 'acme', owner: 'x', type: 'noop', payload: {} });
    const { sink, statuses, events } = recordingSink();
    const c = controller(sink);
    c.upsert(schedule('forbid', 'Forbid', previous.jobId));
    await c.idle();
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM jobs WHERE idempotency_key LIKE 'schedule:uid-forbid:%'`);
    expect(rows[0].n).toBe(0);
    expect(events).toContainEqual(expect.objectContaining({ reason: 'JobAlreadyActive' }));
    expect(statuses.at(-1)?.lastScheduleTime).toBe('2030-01-01T09:00:00.000Z');
    const { rows: prev } = await pool.query('SELECT status FROM jobs WHERE id = $1', [previous.jobId]);
    expect(prev[0].status).toBe('queued');
  });

  it('an invalid spec becomes an InvalidSpec condition with one warning event, and no job', async () => {
    const { sink, statuses, events } = recordingSink();
    const c = controller(sink);
    const bad: JobScheduleObject = { metadata: { name: 'bad', namespace: 'ops', uid: 'uid-bad', generation: 5 }, spec: { schedule: '* * * * *', timeZone: 'Nowhere/Land', jobType: 'noop' } };
    c.upsert(bad);
    await c.idle();
    c.upsert(bad);
    await c.idle();
    expect(statuses).toHaveLength(1);
    expect(statuses[0]!.conditions).toContainEqual(expect.objectContaining({ type: 'InvalidSpec', status: 'True', observedGeneration: 5 }));
    expect(events.filter((e) => e.reason === 'InvalidSpec')).toHaveLength(1);
  });
});

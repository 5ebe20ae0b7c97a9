import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '@conveyor/platform';
import { migrateJobsSchema } from '@conveyor/jobs';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.js';
import { infra } from '../../../test/support/infra.js';
import { startService, type RunningService } from '../../../test/support/service-process.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const everySecond = `apiVersion: conveyor.dev/v1alpha1
kind: JobSchedule
metadata:
  name: tick
  namespace: test
  labels:
    conveyor.dev/tenant: acme
spec:
  schedule: "* * * * * *"
  jobType: noop
  payload: {}
---
apiVersion: conveyor.dev/v1alpha1
kind: JobSchedule
metadata:
  name: broken
spec:
  schedule: "99 * * * *"
  jobType: noop
`;

describe('folder-based JobSchedules with two scheduler processes', () => {
  let db: TestDatabase;
  let pool: Pool;
  let dir: string;
  const services: RunningService[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 5 });
    await migrateJobsSchema(pool);
    dir = await mkdtemp(path.join(os.tmpdir(), 'schedules-'));
    await writeFile(path.join(dir, 'tick.yaml'), everySecond);
    await writeFile(path.join(dir, 'garbage.yaml'), 'kind: [unclosed\n');
  });
  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop('SIGKILL')));
    await pool.end();
    await db.drop();
    await rm(dir, { recursive: true, force: true });
  });

  const jobsOf = async (prefix: string) =>
    (
      await pool.query<{ id: string; key: string; tenant: string; owner: string; status: string; created: number }>(
        `SELECT j.id, j.idempotency_key AS key, j.tenant, j.owner, j.status,
                (SELECT count(*)::int FROM job_events e WHERE e.job_id = j.id AND e.type = 'created') AS created
           FROM jobs j WHERE j.idempotency_key LIKE $1 ORDER BY j.idempotency_key`,
        [`${prefix}%`],
      )
    ).rows;

  it('fire once per fire time across replicas, report invalid documents, and follow folder changes', async () => {
    const env = {
      DATABASE_URL: db.url,
      KAFKA_BROKERS: infra.kafkaBrokers.join(','),
      SCHEDULES_SOURCE: 'folder',
      SCHEDULES_DIR: dir,
      RECONCILE_INTERVAL_MS: '60000',
    };
    services.push(...(await Promise.all([startService('scheduler', env), startService('scheduler', env)])));
    await sleep(4_500);

    const ticks = await jobsOf('schedule:folder:test/tick:');
    expect(ticks.length).toBeGreaterThanOrEqual(3);
    for (const job of ticks) {
      expect(job).toMatchObject({ tenant: 'acme', owner: 'schedule:test/tick', status: 'queued', created: 1 });
      expect(job.key).toMatch(/:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
    }
    // Consecutive seconds: no fire time skipped, none doubled.
    const times = ticks.map((j) => Date.parse(j.key.slice('schedule:folder:test/tick:'.length)));
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBe(1000);

    // Each fire was created once, by the leader.
    const fired = await Promise.all(
      services.map(async (s) => Number(/conveyor_scheduler_schedule_fires_total\{[^}]*outcome="fired"[^}]*\} (\d+)/.exec(await (await fetch(`${s.url}/metrics`)).text())?.[1] ?? 0)),
    );
    const total = (await jobsOf('schedule:folder:test/tick:')).length;
    expect(fired[0]! + fired[1]!).toBeGreaterThanOrEqual(total - 2); // a fire may be in flight between the two reads
    expect(fired[0]! + fired[1]!).toBeLessThanOrEqual(total);

    // Only the leader reads the folder and fires; the other stands by.
    const leading = services.filter((s) => /became leader/.test(s.output()));
    expect(leading).toHaveLength(1);
    expect(fired[services.indexOf(leading[0]!)]).toBeGreaterThan(0);
    expect(fired[1 - services.indexOf(leading[0]!)]).toBe(0);
    expect(leading[0]!.output()).toMatch(/invalid JobSchedule spec/);
    expect(leading[0]!.output()).toMatch(/ignoring schedule document/);
    for (const s of services) expect(s.process.exitCode).toBeNull();

    // A schedule added while running fires; removing it stops it.
    await writeFile(
      path.join(dir, 'late.yaml'),
      `kind: JobSchedule\nmetadata:\n  name: late\nspec:\n  schedule: "* * * * * *"\n  jobType: sleep\n  payload: { ms: 1 }\n`,
    );
    await sleep(2_500);
    const late = await jobsOf('schedule:folder:default/late:');
    expect(late.length).toBeGreaterThanOrEqual(1);
    expect(late[0]).toMatchObject({ tenant: 'system' });
    await rm(path.join(dir, 'late.yaml'));
    await sleep(1_000);
    const afterRemoval = (await jobsOf('schedule:folder:default/late:')).length;
    await sleep(1_500);
    expect((await jobsOf('schedule:folder:default/late:')).length).toBe(afterRemoval);

    for (const s of services) await s.stopCleanly();
  });
});

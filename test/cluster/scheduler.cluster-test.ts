import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseUrl, eventually, isRunningAndReady, kubectl, kubectlJson, namespace, pods, promQuery } from './cluster.js';

// The scheduler as the chart runs it: two replicas, one leader elected through a Lease; JobSchedules
// applied with kubectl fire, and a leader deleted mid-schedule hands over without losing or
// doubling a fire time.
const SCHEDULER = 'app.kubernetes.io/instance=conveyor,app.kubernetes.io/component=scheduler';
const LEASE = 'conveyor-scheduler';
const EVERY_SECONDS = 30;

interface Lease {
  metadata: { namespace: string; name: string };
  spec: { holderIdentity?: string };
}

async function leader(): Promise<{ holder: string; schedulers: string[]; leaders: string[] }> {
  const schedulers = (await pods(SCHEDULER)).filter(isRunningAndReady).map((p) => p.metadata.name);
  const leases = (await kubectlJson<{ items: Lease[] }>('get', 'leases', '--all-namespaces', '--field-selector', `metadata.name=${LEASE}`)).items;
  if (leases.length !== 1) throw new Error(`expected one Lease ${LEASE}, found ${leases.length}`);
  const gauges = await promQuery('conveyor_scheduler_is_leader == 1');
  // client-go style identity: <pod name>_<random id>.
  const holder = (leases[0]!.spec.holderIdentity ?? '').replace(/_[^_]*$/, '');
  return { holder, schedulers, leaders: gauges.map((g) => g.metric.pod!) };
}

describe('the scheduler on the local cluster', () => {
  let db: pg.Client;
  beforeAll(async () => {
    db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
  });
  afterAll(() => db?.end());

  it('runs two replicas of which exactly one holds the Lease (and says so in conveyor_scheduler_is_leader)', async () => {
    const seen = await eventually(
      leader,
      (l) => l.schedulers.length === 2 && l.schedulers.includes(l.holder) && l.leaders.length === 1 && l.leaders[0] === l.holder,
      120_000,
      `two ready schedulers, the Lease ${LEASE} held by one of them, and only that one reporting conveyor_scheduler_is_leader 1`,
      2000,
    );
    expect(seen.schedulers).toHaveLength(2);
  });

  /** Applies a noop JobSchedule for the demo tenant; returns its uid and a reader of its fires. */
  async function applySchedule(name: string, schedule: string) {
    const file = path.join(tmpdir(), `${name}.json`);
    writeFileSync(file, JSON.stringify({
      apiVersion: 'conveyor.dev/v1alpha1',
      kind: 'JobSchedule',
      metadata: { name, namespace, labels: { 'conveyor.dev/tenant': 'demo' } },
      spec: { schedule, jobType: 'noop', payload: {} },
    }));
    await kubectl('apply', '-f', file);
    const uid = (await kubectlJson<{ metadata: { uid: string } }>('-n', namespace, 'get', 'jobschedule', name)).metadata.uid;
    const prefix = `schedule:${uid}:`;
    // Read back from the cluster's Postgres: the fire time is in each job's idempotency key.
    const fires = async () =>
      (
        await db.query<{ key: string; status: string }>('SELECT idempotency_key AS key, status FROM jobs WHERE idempotency_key LIKE $1 ORDER BY idempotency_key', [`${prefix}%`])
      ).rows.map((r) => ({ at: Date.parse(r.key.slice(prefix.length)), status: r.status }));
    return { fires, remove: () => kubectl('-n', namespace, 'delete', 'jobschedule', name, '--ignore-not-found') };
  }

  it('fires a JobSchedule applied with kubectl, and reports the fire in its status', async () => {
    const name = `cluster-fires-${randomUUID().slice(0, 8)}`;
    const schedule = await applySchedule(name, '*/10 * * * * *');
    try {
      const status = await eventually(
        () => kubectlJson<{ status?: { lastScheduleTime?: string; lastJobId?: string } }>('-n', namespace, 'get', 'jobschedule', name),
        (s) => Boolean(s.status?.lastJobId),
        90_000,
        `${name} to fire (status.lastJobId)`,
        2000,
      );
      expect(status.status?.lastScheduleTime).toBeTruthy();
      const fired = await eventually(schedule.fires, (rows) => rows.length > 0 && rows.every((r) => r.status === 'success'), 60_000, `the jobs of ${name} to succeed`, 2000);
      expect(fired.map((f) => f.at)).toContain(Date.parse(status.status!.lastScheduleTime!));
    } finally {
      await schedule.remove();
    }
  });

  it(`across a deleted leader runs every fire time of a ${EVERY_SECONDS} s schedule exactly once`, async () => {
    const name = `cluster-every-${EVERY_SECONDS}s-${randomUUID().slice(0, 8)}`;
    const schedule = await applySchedule(name, `*/${EVERY_SECONDS} * * * * *`);
    try {
      await eventually(schedule.fires, (rows) => rows.length > 0, (EVERY_SECONDS + 60) * 1000, `${name} to fire once`, 2000);
      const before = await leader();
      await kubectl('-n', namespace, 'delete', 'pod', before.holder, '--wait=false');
      const deletedAt = Date.now();
      const after = await eventually(
        leader,
        (l) => l.holder !== before.holder && l.holder !== '' && l.schedulers.includes(l.holder),
        120_000,
        `another scheduler to take the Lease from the deleted ${before.holder}`,
        1000,
      );
      console.log(`leader ${before.holder} deleted; ${after.holder} took over after ${Date.now() - deletedAt} ms`);
      // Two more fire times after the handover, then stop the schedule.
      await eventually(
        schedule.fires,
        (rows) => rows.some((r) => r.at > deletedAt + EVERY_SECONDS * 1000),
        (3 * EVERY_SECONDS + 60) * 1000,
        `fires of ${name} after the handover`,
        2000,
      );
    } finally {
      await schedule.remove();
    }
    // Every fire time from the first to the last has exactly one job (none skipped by the
    // handover, none doubled by two leaders), and every one of them ran.
    const rows = await eventually(schedule.fires, (r) => r.every((f) => f.status === 'success'), 120_000, `the jobs of ${name} to succeed`, 2000);
    const times = rows.map((r) => r.at);
    expect(new Set(times).size).toBe(times.length);
    expect(times.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!, `fire ${i} follows fire ${i - 1}`).toBe(EVERY_SECONDS * 1000);
  });
});

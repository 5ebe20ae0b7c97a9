import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CoordinationV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '@conveyor/platform';
import { migrateJobsSchema } from '@conveyor/jobs';
import { BUILD_TIMEOUT_MS } from '../../../test/apiserver/harness.js';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.js';
import { uniqueName } from '../../../test/support/infra.js';
import { platformEnv } from '../../../test/support/platform.js';
import { startService, type RunningService } from '../../../test/support/service-process.js';
import { waitUntil } from '../../../test/support/wait.js';
import { startKubernetesFixture, type KubernetesFixture } from './kubernetes-fixture.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Short timings so a handover fits a test; the same rules as the defaults (15 s / 10 s / 2 s). */
const LEASE_SECONDS = 3;
const RETRY_SECONDS = 0.5;
/** Standbys wait a retry period plus up to 20 % jitter between tries. */
const JITTERED_RETRY_MS = RETRY_SECONDS * 1000 * 1.2;
const PERIOD_MS = 5_000;
const electionEnv = {
  LEADER_ELECTION_LEASE_DURATION_SECONDS: String(LEASE_SECONDS),
  LEADER_ELECTION_RENEW_DEADLINE_SECONDS: '2',
  LEADER_ELECTION_RETRY_PERIOD_SECONDS: String(RETRY_SECONDS),
  RECONCILE_INTERVAL_MS: '60000',
};

async function metric(service: RunningService, pattern: RegExp): Promise<number | undefined> {
  try {
    const text = await (await fetch(`${service.url}/metrics`, { signal: AbortSignal.timeout(2_000) })).text();
    const match = pattern.exec(text);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined; // killed, or not answering
  }
}
const isLeader = async (s: RunningService) => (await metric(s, /^conveyor_scheduler_is_leader\{[^}]*\} (\d+)$/m)) === 1;
const firedBy = async (s: RunningService) => (await metric(s, /^conveyor_scheduler_schedule_fires_total\{[^}]*outcome="fired"[^}]*\} (\d+)$/m)) ?? 0;

/** Records every moment at which more than one replica said it leads. */
function watchLeaders(services: () => RunningService[]) {
  const overlaps: string[] = [];
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      const leading = await Promise.all(services().map(isLeader));
      if (leading.filter(Boolean).length > 1) overlaps.push(new Date().toISOString());
      await sleep(100);
    }
  })();
  return {
    overlaps,
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}

/** Fire times of a schedule (ms), with how many jobs each has and when the first was created. */
async function fires(pool: Pool, keyPrefix: string) {
  const { rows } = await pool.query<{ key: string; copies: number; created_at: Date }>(
    `SELECT idempotency_key AS key, count(*)::int AS copies, min(created_at) AS created_at
       FROM jobs WHERE idempotency_key LIKE $1 GROUP BY idempotency_key ORDER BY idempotency_key`,
    [`${keyPrefix}%`],
  );
  return rows.map((r) => ({ time: Date.parse(r.key.slice(keyPrefix.length)), copies: r.copies, createdAt: r.created_at.getTime() }));
}

/** Every fire time from the first to the last is there exactly once, PERIOD_MS apart. */
function expectEveryFireOnce(rows: Array<{ time: number; copies: number }>) {
  for (const row of rows) expect(row.copies).toBe(1);
  for (let i = 1; i < rows.length; i++) expect(rows[i]!.time - rows[i - 1]!.time).toBe(PERIOD_MS);
}

/**
 * Kills the leader with SIGKILL 1.5 s before a fire time, so that fire time falls inside the
 * handover: the next leader must fire it (late) exactly once. Returns that fire time and when the
 * kill happened.
 */
async function killLeaderBeforeAFire(pool: Pool, keyPrefix: string, leader: RunningService) {
  const known = await fires(pool, keyPrefix);
  let fireTime = known.at(-1)!.time + PERIOD_MS;
  if (fireTime - Date.now() < 2_000) fireTime += PERIOD_MS;
  await sleep(fireTime - 1_500 - Date.now());
  const killedAt = Date.now();
  await leader.stop('SIGKILL');
  return { fireTime, killedAt };
}

describe('leader election on a coordination.k8s.io Lease, against a real kube-apiserver', () => {
  let fixture: KubernetesFixture;
  let pool: Pool;
  let leases: CoordinationV1Api;
  let namespace: string;
  const services: RunningService[] = [];
  let env: Record<string, string>;

  beforeAll(async () => {
    fixture = await startKubernetesFixture('le');
    ({ pool, namespace } = fixture);
    leases = fixture.kc.makeApiClient(CoordinationV1Api);
    env = { ...fixture.env, ...electionEnv, LEADER_ELECTION_NAMESPACE: namespace, LEADER_ELECTION_LEASE_NAME: 'conveyor-scheduler' };
  }, BUILD_TIMEOUT_MS + 120_000);

  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop('SIGKILL')));
    await fixture?.stop();
  }, 60_000);

  const lease = () => leases.readNamespacedLease({ name: 'conveyor-scheduler', namespace });
  const start = async (host: string) => {
    const service = await startService('scheduler', { ...env, HOSTNAME: host });
    services.push(service);
    return service;
  };

  it('one of two replicas leads; after kill -9 the other leads within the lease, and every fire time runs once', async () => {
    const [a, b] = await Promise.all([start('scheduler-a'), start('scheduler-b')]);
    await waitUntil(async () => (await isLeader(a)) || (await isLeader(b)), 10_000, 'a leader');
    const leader = (await isLeader(a)) ? a : b;
    const standby = leader === a ? b : a;
    const leaderHost = leader === a ? 'scheduler-a' : 'scheduler-b';
    const standbyHost = leader === a ? 'scheduler-b' : 'scheduler-a';
    expect(await isLeader(standby)).toBe(false);
    expect(await metric(standby, /^conveyor_scheduler_is_leader\{[^}]*\} (\d+)$/m)).toBe(0);
    const held = await lease();
    expect(held.spec?.holderIdentity).toMatch(new RegExp(`^${leaderHost}_[0-9a-f-]{36}$`));
    expect(held.spec?.leaseDurationSeconds).toBe(LEASE_SECONDS);
    const transitions = held.spec?.leaseTransitions ?? 0;
    const leaders = watchLeaders(() => services.filter((s) => s.process.exitCode === null && s.process.signalCode === null));

    const created = await fixture.objects.createNamespacedCustomObject({
      group: 'conveyor.dev',
      version: 'v1alpha1',
      namespace,
      plural: 'jobschedules',
      body: { apiVersion: 'conveyor.dev/v1alpha1', kind: 'JobSchedule', metadata: { name: 'every-five' }, spec: { schedule: '*/5 * * * * *', jobType: 'noop', payload: {} } },
    });
    const keyPrefix = `schedule:${(created as { metadata: { uid: string } }).metadata.uid}:`;
    await waitUntil(async () => (await fires(pool, keyPrefix)).length >= 2, 20_000, 'two fires');
    expect(await firedBy(standby)).toBe(0);

    const { fireTime, killedAt } = await killLeaderBeforeAFire(pool, keyPrefix, leader);
    await waitUntil(() => isLeader(standby), 10_000, 'the standby to lead');
    const tookOver = Date.now() - killedAt;
    // Not before the lease could have expired (its last renewal was at most one retry period
    // before the kill), and within the lease plus the standby's observation and retry periods.
    expect(tookOver).toBeGreaterThanOrEqual(LEASE_SECONDS * 1000 - RETRY_SECONDS * 1000 - 100);
    expect(tookOver).toBeLessThanOrEqual(LEASE_SECONDS * 1000 + 2 * JITTERED_RETRY_MS + 300);
    const taken = await lease();
    expect(taken.spec?.holderIdentity).toMatch(new RegExp(`^${standbyHost}_`));
    expect(taken.spec?.leaseTransitions).toBe(transitions + 1);

    await waitUntil(async () => (await fires(pool, keyPrefix)).some((f) => f.time >= fireTime + PERIOD_MS), 20_000, 'a fire after the handover');
    const rows = await fires(pool, keyPrefix);
    expectEveryFireOnce(rows);
    const missed = rows.find((f) => f.time === fireTime);
    expect(missed, 'the fire time inside the handover').toBeDefined();
    // Fired late, by the new leader, once it had taken the lease.
    expect(missed!.createdAt).toBeGreaterThan(fireTime + 500);
    expect(await firedBy(standby)).toBeGreaterThanOrEqual(2);

    // SIGTERM hands over at once: the leader releases the lease instead of letting it expire.
    const c = await start('scheduler-c');
    await sleep(1_000);
    expect(await isLeader(c)).toBe(false);
    const stoppedAt = Date.now();
    await standby.stopCleanly();
    await waitUntil(() => isLeader(c), 10_000, 'the third replica to lead');
    expect(Date.now() - stoppedAt).toBeLessThan(LEASE_SECONDS * 1000 - RETRY_SECONDS * 1000);
    expect((await lease()).spec).toMatchObject({ holderIdentity: expect.stringMatching(/^scheduler-c_/), leaseTransitions: transitions + 2 });
    const before = (await fires(pool, keyPrefix)).length;
    await waitUntil(async () => (await fires(pool, keyPrefix)).length >= before + 1, 15_000, 'a fire by the third replica');
    expectEveryFireOnce(await fires(pool, keyPrefix));

    await leaders.stop();
    expect(leaders.overlaps).toEqual([]);
    await c.stopCleanly();
  }, 120_000);
});

describe('leader election on a Postgres advisory lock (no Kubernetes)', () => {
  let db: TestDatabase;
  let pool: Pool;
  let dir: string;
  const services: RunningService[] = [];
  let env: Record<string, string>;
  const keyPrefix = 'schedule:folder:test/every-five:';

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 3 });
    await migrateJobsSchema(pool);
    dir = await mkdtemp(path.join(os.tmpdir(), 'leader-'));
    await writeFile(
      path.join(dir, 'every-five.yaml'),
      `kind: JobSchedule\nmetadata:\n  name: every-five\n  namespace: test\nspec:\n  schedule: "*/5 * * * * *"\n  jobType: noop\n`,
    );
    env = {
      ...platformEnv(uniqueName('la').toLowerCase().replace(/_/g, '-'), db.url),
      ...electionEnv,
      SCHEDULES_SOURCE: 'folder',
      SCHEDULES_DIR: dir,
    };
  });
  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop('SIGKILL')));
    await pool?.end();
    await db?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  const start = async (host: string) => {
    const service = await startService('scheduler', { ...env, HOSTNAME: host });
    services.push(service);
    return service;
  };
  /** Backends holding an advisory lock in this database, by their application_name. */
  const lockHolders = async () =>
    (
      await pool.query<{ pid: number; application_name: string }>(
        `SELECT a.pid, a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      )
    ).rows;

  it('one replica holds the lock; kill -9 and a lost connection both hand over, and every fire time runs once', async () => {
    const [a, b] = await Promise.all([start('scheduler-a'), start('scheduler-b')]);
    await waitUntil(async () => (await isLeader(a)) || (await isLeader(b)), 10_000, 'a leader');
    const leader = (await isLeader(a)) ? a : b;
    const standby = leader === a ? b : a;
    const holders = await lockHolders();
    expect(holders).toHaveLength(1);
    expect(holders[0]!.application_name).toMatch(new RegExp(`^scheduler-leader ${leader === a ? 'scheduler-a' : 'scheduler-b'}_`));
    expect(await metric(standby, /^conveyor_scheduler_is_leader\{[^}]*\} (\d+)$/m)).toBe(0);
    const leaders = watchLeaders(() => services.filter((s) => s.process.exitCode === null && s.process.signalCode === null));

    await waitUntil(async () => (await fires(pool, keyPrefix)).length >= 2, 20_000, 'two fires');
    expect(await firedBy(standby)).toBe(0);

    // kill -9: the socket closes, Postgres ends the session and frees the lock at once.
    const { fireTime, killedAt } = await killLeaderBeforeAFire(pool, keyPrefix, leader);
    await waitUntil(() => isLeader(standby), 10_000, 'the standby to lead');
    expect(Date.now() - killedAt).toBeLessThanOrEqual(LEASE_SECONDS * 1000);
    await waitUntil(async () => (await fires(pool, keyPrefix)).some((f) => f.time >= fireTime + PERIOD_MS), 20_000, 'a fire after the handover');
    expect((await fires(pool, keyPrefix)).find((f) => f.time === fireTime)).toBeDefined();
    expectEveryFireOnce(await fires(pool, keyPrefix));

    // The leader's lock session is ended from the server side: it must stop acting at once, and
    // the third replica takes over.
    const c = await start('scheduler-c');
    await sleep(1_000);
    expect(await isLeader(c)).toBe(false);
    const [session] = await lockHolders();
    expect(session!.application_name).toMatch(/^scheduler-leader scheduler-[ab]_/);
    await pool.query('SELECT pg_terminate_backend($1)', [session!.pid]);
    const cutAt = Date.now();
    await waitUntil(async () => !(await isLeader(standby)), 2_000, 'the cut-off leader to step down');
    expect(Date.now() - cutAt).toBeLessThan(500);
    const firedBeforeCut = await firedBy(standby);
    await waitUntil(() => isLeader(c), 10_000, 'the third replica to lead');
    expect(Date.now() - cutAt).toBeLessThanOrEqual(LEASE_SECONDS * 1000);
    const before = (await fires(pool, keyPrefix)).length;
    await waitUntil(async () => (await fires(pool, keyPrefix)).length >= before + 2, 20_000, 'fires by the third replica');
    expect(await firedBy(standby)).toBe(firedBeforeCut);
    expect(await isLeader(standby)).toBe(false);
    expect((await lockHolders()).map((h) => h.application_name)).toEqual([expect.stringMatching(/^scheduler-leader scheduler-c_/)]);
    expectEveryFireOnce(await fires(pool, keyPrefix));

    await leaders.stop();
    expect(leaders.overlaps).toEqual([]);
    for (const s of [standby, c]) await s.stopCleanly();
  }, 120_000);
});

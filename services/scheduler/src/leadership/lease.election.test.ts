import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '@conveyor/platform';
import { waitUntil } from '../../../../test/support/wait.js';
import { leaderOnly, type Election } from './leadership.js';
import { LeaseConflict, startLeaseElection, type LeaseStore } from './lease.election.js';
import type { LeaseRecord } from './lease-record.js';

const logger = createLogger({ service: 'scheduler-test', level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An in-memory Lease with the API server's optimistic concurrency; `broken` makes one caller's calls fail. */
function memoryLease() {
  let stored: { record: LeaseRecord; version: number } | undefined;
  const log: string[] = [];
  const store = (who: string, broken: { value: boolean }): LeaseStore => ({
    describe: 'test/lease',
    read: async () => {
      if (broken.value) throw new Error('network down');
      return stored && { record: stored.record, resourceVersion: String(stored.version) };
    },
    create: async (record) => {
      if (broken.value) throw new Error('network down');
      if (stored) throw new LeaseConflict('exists');
      stored = { record, version: 1 };
      log.push(`${who} created`);
      return '1';
    },
    replace: async (record, resourceVersion) => {
      if (broken.value) throw new Error('network down');
      if (!stored || String(stored.version) !== resourceVersion) throw new LeaseConflict('conflict');
      stored = { record, version: stored.version + 1 };
      return String(stored.version);
    },
  });
  return { store, current: () => stored?.record, log };
}

describe('Lease election loop', () => {
  const elections: Election[] = [];
  afterEach(async () => {
    await Promise.all(elections.splice(0).map((e) => e.stop()));
  });

  const timing = { leaseDurationSeconds: 1, renewDeadlineMs: 600, retryPeriodMs: 100, logger };
  function candidate(lease: ReturnType<typeof memoryLease>, identity: string, events: string[], broken = { value: false }) {
    const election = startLeaseElection({
      ...timing,
      identity,
      store: lease.store(identity, broken),
      callbacks: {
        onStartedLeading: () => events.push(`${identity} started`),
        onStoppedLeading: async () => {
          events.push(`${identity} stopped`);
        },
      },
    });
    elections.push(election);
    return { election, broken };
  }

  it('elects one leader, and a stopped leader releases so the standby takes over within a retry period', async () => {
    const lease = memoryLease();
    const events: string[] = [];
    const a = candidate(lease, 'a', events);
    await waitUntil(() => a.election.isLeader(), 2_000, 'a to lead');
    const b = candidate(lease, 'b', events);
    await sleep(400);
    expect(b.election.isLeader()).toBe(false);
    expect(lease.current()).toMatchObject({ holderIdentity: 'a', leaseTransitions: 0 });

    const stoppedAt = Date.now();
    await a.election.stop();
    expect(lease.current()).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1 });
    await waitUntil(() => b.election.isLeader(), 2_000, 'b to lead');
    // Well inside the 1 s lease: the release, not expiry, handed it over.
    expect(Date.now() - stoppedAt).toBeLessThan(600);
    expect(lease.current()).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
    expect(events).toEqual(['a started', 'a stopped', 'b started']);
  });

  it('a leader that cannot renew stops by its renew deadline, before a standby may take the lease', async () => {
    const lease = memoryLease();
    const events: string[] = [];
    const times: Record<string, number> = {};
    const a = candidate(lease, 'a', events);
    await waitUntil(() => a.election.isLeader(), 2_000, 'a to lead');
    const b = candidate(lease, 'b', events);
    await sleep(300);

    const cutAt = Date.now();
    a.broken.value = true;
    await waitUntil(() => !a.election.isLeader(), 2_000, 'a to stop leading');
    times.aStopped = Date.now() - cutAt;
    await waitUntil(() => b.election.isLeader(), 3_000, 'b to take over');
    times.bStarted = Date.now() - cutAt;
    expect(times.aStopped).toBeLessThanOrEqual(600 + 50);
    // b saw a's last renewal at most one retry period before the cut, and waits out the lease.
    expect(times.bStarted).toBeGreaterThanOrEqual(1_000 - 100 - 20);
    expect(times.bStarted).toBeGreaterThan(times.aStopped);
    expect(events).toEqual(['a started', 'a stopped', 'b started']);

    // Back on the network, a finds b's lease and stays a standby.
    a.broken.value = false;
    await sleep(400);
    expect(a.election.isLeader()).toBe(false);
    expect(lease.current()).toMatchObject({ holderIdentity: 'b' });
  });
});

describe('leaderOnly', () => {
  it('aborts the term at once, and starts the next only after the previous one stopped', async () => {
    const steps: string[] = [];
    let release!: () => void;
    const slowStop = new Promise<void>((r) => (release = r));
    const signals: AbortSignal[] = [];
    const work = leaderOnly(async (signal) => {
      signals.push(signal);
      steps.push(`start ${signals.length}`);
      return {
        stop: async () => {
          steps.push(`stopping ${signals.indexOf(signal) + 1}`);
          if (signals.indexOf(signal) === 0) await slowStop;
          steps.push(`stopped ${signals.indexOf(signal) + 1}`);
        },
      };
    }, logger);
    work.begin();
    await waitUntil(() => signals.length === 1, 1_000, 'the first term');
    const ended = work.end();
    expect(signals[0]!.aborted).toBe(true);
    work.begin();
    await sleep(50);
    expect(steps).toEqual(['start 1', 'stopping 1']);
    release();
    await ended;
    await waitUntil(() => signals.length === 2, 1_000, 'the second term');
    expect(steps).toEqual(['start 1', 'stopping 1', 'stopped 1', 'start 2']);
    await work.end();
  });
});

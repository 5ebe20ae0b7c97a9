import type { Logger } from '@conveyor/platform';
import { everyRetryPeriod, type Election, type LeadershipCallbacks } from './leadership.js';
import { claimRecord, heldByOther, releasedRecord, type LeaseRecord, type Observation } from './lease-record.js';

/** A write lost to another writer: the Lease changed since it was read (or exists already). */
export class LeaseConflict extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LeaseConflict';
  }
}

/** The one Lease object this election uses; optimistic concurrency on its resourceVersion. */
export interface LeaseStore {
  /** namespace/name, for logs. */
  readonly describe: string;
  read(): Promise<{ record: LeaseRecord; resourceVersion: string } | undefined>;
  /** Resolves with the new resourceVersion; rejects with LeaseConflict when it exists already. */
  create(record: LeaseRecord): Promise<string>;
  /** Resolves with the new resourceVersion; rejects with LeaseConflict unless still at `resourceVersion`. */
  replace(record: LeaseRecord, resourceVersion: string): Promise<string>;
}

export interface LeaseElectionOptions {
  store: LeaseStore;
  identity: string;
  leaseDurationSeconds: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  logger: Logger;
  callbacks: LeadershipCallbacks;
  /** Monotonic-enough local clock (ms) for expiry and deadlines. */
  now?: () => number;
}

/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection package does
 * it: every retry period the leader renews and each standby tries to take the lease, which it
 * may once the lease went unrenewed for leaseDurationSeconds *as this standby observed it*. A
 * leader that could not renew for the renew deadline (shorter than the lease duration) stops
 * leading at once, before any standby may take over. Stopping releases the lease (no holder,
 * 1 s duration), so a standby takes it at its next try instead of waiting for expiry.
 */
export function startLeaseElection(options: LeaseElectionOptions): Election {
  const { store, identity, leaseDurationSeconds, renewDeadlineMs, retryPeriodMs, callbacks } = options;
  const now = options.now ?? Date.now;
  const logger = options.logger.child({ component: 'leader-election', lease: store.describe, identity });
  let observed: Observation | undefined;
  let leading = false;
  let watchdog: NodeJS.Timeout | undefined;
  let reportedLeader = '';

  const observe = (record: LeaseRecord, resourceVersion: string): void => {
    if (observed?.resourceVersion !== resourceVersion) observed = { record, resourceVersion, observedAt: now() };
    if (record.holderIdentity !== '' && record.holderIdentity !== reportedLeader) {
      reportedLeader = record.holderIdentity;
      logger.info({ leader: reportedLeader }, 'new leader observed');
      callbacks.onNewLeader?.(reportedLeader);
    }
  };

  /** client-go's tryAcquireOrRenew: true when this replica holds the lease after the call. */
  const tryAcquireOrRenew = async (): Promise<boolean> => {
    const at = new Date();
    if (leading && observed) {
      // Fast path: the leader writes over the version it wrote last.
      try {
        const record = claimRecord(observed.record, identity, leaseDurationSeconds, at);
        observe(record, await store.replace(record, observed.resourceVersion));
        return true;
      } catch (error) {
        logger.debug({ err: error }, 'optimistic renewal failed; reading the lease');
      }
    }
    const current = await store.read();
    if (!current) {
      const record = claimRecord(undefined, identity, leaseDurationSeconds, at);
      observe(record, await store.create(record));
      return true;
    }
    observe(current.record, current.resourceVersion);
    if (heldByOther(observed!, identity, now())) return false;
    const record = claimRecord(current.record, identity, leaseDurationSeconds, at);
    observe(record, await store.replace(record, current.resourceVersion));
    return true;
  };

  const stepDown = (reason: string): void => {
    if (!leading) return;
    leading = false;
    clearTimeout(watchdog);
    logger.warn({ reason }, 'stopped leading');
    void callbacks.onStoppedLeading();
  };

  const runRound = async (): Promise<void> => {
    const startedAt = now();
    let held = false;
    try {
      held = await tryAcquireOrRenew();
    } catch (error) {
      if (error instanceof LeaseConflict) logger.debug({ err: error }, 'lost a race for the lease');
      else logger.warn({ err: error }, 'could not read or write the lease');
    }
    if (rounds.stopped()) return;
    if (held) {
      // Others saw this renewal no earlier than it was sent: the deadline counts from then.
      clearTimeout(watchdog);
      watchdog = setTimeout(() => stepDown('could not renew the lease within the renew deadline'), Math.max(0, renewDeadlineMs - (now() - startedAt)));
      if (!leading) {
        leading = true;
        logger.info({ transitions: observed?.record.leaseTransitions }, 'became leader');
        callbacks.onStartedLeading();
      }
    } else if (leading && observed && heldByOther(observed, identity, now())) {
      stepDown(`the lease is held by ${observed.record.holderIdentity}`);
    }
  };

  const rounds = everyRetryPeriod(runRound, retryPeriodMs, () => leading);

  let stopping: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    await rounds.stop();
    clearTimeout(watchdog);
    if (leading) {
      leading = false;
      logger.info('stopping: ending leader-only work before releasing the lease');
      await callbacks.onStoppedLeading();
    }
    // Released whenever this replica wrote the lease last, even if a round won it while stopping.
    if (observed?.record.holderIdentity === identity) {
      try {
        await store.replace(releasedRecord(observed.record, new Date()), observed.resourceVersion);
        logger.info('released the lease');
      } catch (error) {
        logger.warn({ err: error }, 'could not release the lease; a standby takes it when it expires');
      }
    }
  };
  return {
    identity,
    isLeader: () => leading,
    stop: () => (stopping ??= stop()),
  };
}

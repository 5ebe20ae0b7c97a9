/**
 * The leader-election record kept in a coordination.k8s.io/v1 Lease's spec, and client-go's rules
 * for reading and writing it (k8s.io/client-go/tools/leaderelection), as pure functions.
 */
export interface LeaseRecord {
  /** Empty when nobody holds it (released). */
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime: Date;
  renewTime: Date;
  leaseTransitions: number;
}

/** A record as this replica last saw it change, by its own clock. */
export interface Observation {
  record: LeaseRecord;
  resourceVersion: string;
  /** Local time (ms) at which this replica first saw this version. */
  observedAt: number;
}

/**
 * Whether another replica holds the lease. Expiry is judged from when *this* replica saw the
 * record last change, never from the holder's renewTime, so clocks that disagree cannot make a
 * live lease look expired; only clocks running at different rates could.
 */
export function heldByOther(observed: Observation, identity: string, now: number): boolean {
  const { holderIdentity, leaseDurationSeconds } = observed.record;
  return holderIdentity !== '' && holderIdentity !== identity && observed.observedAt + leaseDurationSeconds * 1000 > now;
}

/** The record that takes (or keeps) the lease: a new holder counts a transition and a new acquireTime. */
export function claimRecord(previous: LeaseRecord | undefined, identity: string, leaseDurationSeconds: number, now: Date): LeaseRecord {
  const renewing = previous?.holderIdentity === identity;
  return {
    holderIdentity: identity,
    leaseDurationSeconds,
    acquireTime: renewing ? previous.acquireTime : now,
    renewTime: now,
    leaseTransitions: previous === undefined ? 0 : previous.leaseTransitions + (renewing ? 0 : 1),
  };
}

/** Given up on purpose: no holder and a 1 s duration, so a standby takes it at its next try. */
export function releasedRecord(previous: LeaseRecord, now: Date): LeaseRecord {
  return { holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now, leaseTransitions: previous.leaseTransitions };
}

import { describe, expect, it } from 'vitest';
import { claimRecord, heldByOther, releasedRecord, type LeaseRecord } from './lease-record.js';
import { toLeaseRecord, toLeaseSpec } from './lease.store.js';

const t0 = new Date('2026-01-01T00:00:00.000Z');
const t1 = new Date('2026-01-01T00:00:05.123Z');
const held = (holderIdentity: string, leaseDurationSeconds = 15): LeaseRecord => ({
  holderIdentity,
  leaseDurationSeconds,
  acquireTime: t0,
  renewTime: t0,
  leaseTransitions: 3,
});

describe('lease record rules (client-go leaderelection)', () => {
  it('counts another holder valid for leaseDurationSeconds from when this replica saw the record change', () => {
    const observed = { record: held('b'), resourceVersion: '7', observedAt: 1_000 };
    expect(heldByOther(observed, 'a', 1_000 + 14_999)).toBe(true);
    expect(heldByOther(observed, 'a', 1_000 + 15_000)).toBe(false);
    // The holder's own renewTime does not matter: a far-behind clock cannot make it look expired.
    expect(heldByOther({ ...observed, record: { ...held('b'), renewTime: new Date(0) } }, 'a', 2_000)).toBe(true);
  });

  it('never counts itself or a released lease as held by another', () => {
    expect(heldByOther({ record: held('a'), resourceVersion: '1', observedAt: 0 }, 'a', 1)).toBe(false);
    expect(heldByOther({ record: held(''), resourceVersion: '1', observedAt: 0 }, 'a', 1)).toBe(false);
  });

  it('creates with no transitions, renews keeping acquireTime, and counts a takeover', () => {
    expect(claimRecord(undefined, 'a', 15, t1)).toEqual({ holderIdentity: 'a', leaseDurationSeconds: 15, acquireTime: t1, renewTime: t1, leaseTransitions: 0 });
    expect(claimRecord(held('a'), 'a', 15, t1)).toMatchObject({ acquireTime: t0, renewTime: t1, leaseTransitions: 3 });
    expect(claimRecord(held('b'), 'a', 15, t1)).toMatchObject({ holderIdentity: 'a', acquireTime: t1, renewTime: t1, leaseTransitions: 4 });
  });

  it('releases with no holder and a 1 s duration, keeping the transition count', () => {
    expect(releasedRecord(held('a'), t1)).toEqual({ holderIdentity: '', leaseDurationSeconds: 1, acquireTime: t1, renewTime: t1, leaseTransitions: 3 });
  });
});

describe('Lease wire format', () => {
  it('writes MicroTime with exactly six fractional digits, as the API server requires', () => {
    const body = JSON.parse(JSON.stringify(toLeaseSpec(claimRecord(undefined, 'a', 15, t1)))) as Record<string, unknown>;
    expect(body).toEqual({ holderIdentity: 'a', leaseDurationSeconds: 15, acquireTime: '2026-01-01T00:00:05.123000Z', renewTime: '2026-01-01T00:00:05.123000Z', leaseTransitions: 0 });
  });

  it('reads what the client hands back (strings) and a Lease with fields missing', () => {
    expect(toLeaseRecord({ holderIdentity: 'b', leaseDurationSeconds: 4, renewTime: '2026-01-01T00:00:05.123456Z' as unknown as Date })).toEqual({
      holderIdentity: 'b',
      leaseDurationSeconds: 4,
      acquireTime: new Date(0),
      renewTime: t1,
      leaseTransitions: 0,
    });
    expect(toLeaseRecord(undefined)).toMatchObject({ holderIdentity: '', leaseTransitions: 0 });
  });
});

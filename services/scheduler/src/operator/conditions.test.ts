import { describe, expect, it } from 'vitest';
import { nextConditions, sameStatus } from './conditions.js';

describe('conditions', () => {
  const t0 = new Date('2030-01-01T00:00:00Z');
  const t1 = new Date('2030-01-01T00:05:00Z');

  it('keeps lastTransitionTime while the status stays, and moves it when the status flips', () => {
    const first = nextConditions(undefined, [{ type: 'Registered', status: 'False', reason: 'InvalidSchema', message: 'm' }], 1, t0);
    const same = nextConditions(first, [{ type: 'Registered', status: 'False', reason: 'UnknownPool', message: 'n' }], 2, t1);
    expect(same[0]).toMatchObject({ reason: 'UnknownPool', lastTransitionTime: t0.toISOString(), observedGeneration: 2 });
    const flipped = nextConditions(same, [{ type: 'Registered', status: 'True', reason: 'Registered', message: 'ok' }], 2, t1);
    expect(flipped[0]!.lastTransitionTime).toBe(t1.toISOString());
  });

  it('compares statuses regardless of key order, absent fields and condition order', () => {
    const c = nextConditions(undefined, [{ type: 'A', status: 'True', reason: 'r', message: 'm' }, { type: 'B', status: 'False', reason: 'r', message: 'm' }], 1, t0);
    expect(sameStatus({ version: 1, conditions: c, typeName: undefined }, { conditions: [...c].reverse(), version: 1 })).toBe(true);
    expect(sameStatus({ version: 1, conditions: c }, { version: 2, conditions: c })).toBe(false);
    expect(sameStatus(undefined, { version: null })).toBe(true);
  });
});

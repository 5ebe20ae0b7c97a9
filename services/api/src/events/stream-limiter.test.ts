import { describe, expect, it } from 'vitest';
import { StreamLimiter } from './stream-limiter.js';

describe('StreamLimiter', () => {
  it('refuses a tenant over its cap but still admits others', () => {
    const l = new StreamLimiter({ perTenant: 2, total: 10 });
    const a = [l.admit('a'), l.admit('a')];
    expect(a.every((x) => x.ok)).toBe(true);
    expect(l.admit('a')).toEqual({ ok: false, reason: 'tenant' });
    expect(l.admit('b').ok).toBe(true);
  });

  it('refuses everyone over the total cap and frees slots on release (once)', () => {
    const l = new StreamLimiter({ perTenant: 5, total: 2 });
    const first = l.admit('a');
    l.admit('b');
    expect(l.admit('c')).toEqual({ ok: false, reason: 'total' });
    if (!first.ok) throw new Error('expected admission');
    first.release();
    first.release();
    expect(l.size).toBe(1);
    expect(l.admit('c').ok).toBe(true);
    expect(l.admit('d').ok).toBe(false);
  });
});

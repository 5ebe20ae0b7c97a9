import { describe, expect, it } from 'vitest';
import { createLoginGuard, lockoutSeconds } from './login-guard.js';

const settings = { maxFailures: 3, lockSeconds: 10, maxLockSeconds: 60 };

describe('login lockout', () => {
  it('locks after maxFailures in a row, doubling with each further failure up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 99].map((n) => lockoutSeconds(n, settings))).toEqual([0, 0, 10, 20, 40, 60, 60, 60]);
  });

  it('counts per account whatever its case, refuses while locked, and forgets after a success (in memory)', async () => {
    const guard = createLoginGuard(settings);
    expect(await guard.failed('Someone@Example.com')).toEqual({ failures: 1 });
    expect(await guard.failed('someone@example.com')).toEqual({ failures: 2 });
    expect(await guard.check('someone@example.com')).toEqual({ locked: false });
    expect(await guard.failed('someone@example.com')).toEqual({ failures: 3, lockSeconds: 10 });
    expect(await guard.check('SOMEONE@example.com')).toEqual({ locked: true, retryAfterSeconds: 10 });
    expect(await guard.check('other@example.com')).toEqual({ locked: false });
    await guard.succeeded('someone@example.com');
    expect(await guard.check('someone@example.com')).toEqual({ locked: false });
    expect(await guard.failed('someone@example.com')).toEqual({ failures: 1 });
  });
});

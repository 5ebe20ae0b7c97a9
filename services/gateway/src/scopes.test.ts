import { describe, expect, it } from 'vitest';
import { isAllowed, scopesFromClaims } from './scopes.js';

describe('scope decisions', () => {
  it('requires the route scope, lets admin pass everything and public routes need none', () => {
    expect(isAllowed(['jobs:read'], 'jobs:read')).toBe(true);
    expect(isAllowed(['jobs:read'], 'jobs:write')).toBe(false);
    expect(isAllowed([], 'jobs:read')).toBe(false);
    expect(isAllowed(['conveyor:admin'], 'jobs:write')).toBe(true);
    expect(isAllowed([], null)).toBe(true);
    expect(isAllowed([], 'authenticated')).toBe(true);
  });

  it('reads scopes from an OAuth scope string or an scp array, ignoring junk', () => {
    expect(scopesFromClaims({ scope: 'jobs:read  jobs:write' })).toEqual(['jobs:read', 'jobs:write']);
    expect(scopesFromClaims({ scp: ['jobs:read', 3, null] })).toEqual(['jobs:read']);
    expect(scopesFromClaims({ scope: 42 })).toEqual([]);
  });
});

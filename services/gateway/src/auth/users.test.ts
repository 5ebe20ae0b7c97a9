import { describe, expect, it } from 'vitest';
import { createUserStore } from './users.js';

describe('dev user store', () => {
  it('authenticates by scrypt hash, case-insensitive email, and refuses wrong or unknown credentials', async () => {
    const store = await createUserStore([{ id: 'u1', email: 'A@example.com', password: 'secret-1', tenant: 't', scopes: ['jobs:read'] }]);
    expect(await store.authenticate('a@example.com', 'secret-1')).toEqual({ id: 'u1', email: 'A@example.com', tenant: 't', scopes: ['jobs:read'] });
    expect(await store.authenticate('a@example.com', 'secret-2')).toBeNull();
    expect(await store.authenticate('nobody@example.com', 'secret-1')).toBeNull();
  });
});

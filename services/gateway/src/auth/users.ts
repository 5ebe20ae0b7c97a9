import { randomBytes, scrypt, timingSafeEqual, type BinaryLike, type ScryptOptions } from 'node:crypto';

/** A user the gateway itself can log in; only the dev users exist. */
export interface User {
  id: string;
  email: string;
  tenant: string;
  scopes: string[];
}

interface StoredUser extends User {
  salt: Buffer;
  hash: Buffer;
}

const KEY_LENGTH = 32;
// N=2^14 is the interactive-login recommendation: tens of ms per check, costly to brute-force.
const SCRYPT: ScryptOptions = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

function derive(password: BinaryLike, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, KEY_LENGTH, SCRYPT, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** The dev users (README, "Using the API"). The passwords are public constants, so they exist only outside production. */
export const DEV_USERS: ReadonlyArray<User & { password: string }> = [
  { id: 'user-demo', email: 'demo@example.com', password: 'demo-password', tenant: 'demo', scopes: ['jobs:read', 'jobs:write'] },
  // Every scope, spelt out (admin alone would pass every route too) so /auth/me shows what it may do.
  { id: 'user-admin', email: 'admin@example.com', password: 'admin-password', tenant: 'admin', scopes: ['jobs:read', 'jobs:write', 'points:grant', 'conveyor:admin'] },
];

export interface UserStore {
  /** The user whose password matches, or null; takes as long for an unknown email as for a known one. */
  authenticate(email: string, password: string): Promise<User | null>;
}

/** Hashes the given users' passwords (scrypt, random salt) so plain passwords are not kept in memory. */
export async function createUserStore(users: ReadonlyArray<User & { password: string }>): Promise<UserStore> {
  const byEmail = new Map<string, StoredUser>();
  for (const { password, ...user } of users) {
    const salt = randomBytes(16);
    byEmail.set(user.email.toLowerCase(), { ...user, salt, hash: await derive(password, salt) });
  }
  // Unknown emails are checked against this, so the answer time does not reveal which emails exist.
  const decoySalt = randomBytes(16);
  const decoyHash = await derive(randomBytes(16), decoySalt);
  return {
    async authenticate(email, password) {
      const stored = byEmail.get(email.toLowerCase());
      const candidate = await derive(password, stored?.salt ?? decoySalt);
      const matches = timingSafeEqual(candidate, stored?.hash ?? decoyHash);
      if (!stored || !matches) return null;
      const { salt: _salt, hash: _hash, ...user } = stored;
      return user;
    },
  };
}

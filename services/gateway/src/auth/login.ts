import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { limitBody } from '../body-limit.js';
import type { LoginGuard } from './login-guard.js';
import type { IssuedToken, TokenService } from './tokens.js';
import type { UserStore } from './users.js';

export const loginBody = z.object({
  email: z.string().trim().max(254).pipe(z.email()),
  password: z.string().min(1).max(1024),
});

export type LoginOutcome =
  | { status: 200; token: IssuedToken; account: string }
  | { status: 400; error: string; details?: unknown }
  | { status: 401; error: string; account: string; failures: number; lockSeconds?: number }
  | { status: 429; error: string; account: string; retryAfterSeconds: number };

/** Reads a whole (small) body, failing with BodyTooLargeError past the limit. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req.pipe(limitBody(limit))) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Checks credentials and issues a token, unless the account is locked after repeated failures
 * (checked first, so a locked account costs no password hashing). Issues never echo the password.
 */
export async function login(raw: Buffer, users: UserStore, tokens: TokenService, guard: LoginGuard): Promise<LoginOutcome> {
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch {
    return { status: 400, error: 'body must be JSON' };
  }
  const parsed = loginBody.safeParse(json);
  if (!parsed.success) {
    return {
      status: 400,
      error: 'invalid login request',
      details: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    };
  }
  const account = parsed.data.email.toLowerCase();
  const lock = await guard.check(account);
  if (lock.locked) {
    return { status: 429, error: 'too many failed logins for this account; retry later', account, retryAfterSeconds: lock.retryAfterSeconds };
  }
  const user = await users.authenticate(parsed.data.email, parsed.data.password);
  if (!user) return { status: 401, error: 'invalid email or password', account, ...(await guard.failed(account)) };
  await guard.succeeded(account);
  return { status: 200, token: await tokens.issue(user), account };
}

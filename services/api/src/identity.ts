import { timingSafeEqual } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import { z } from 'zod';
import { HttpError } from './http-errors.js';

/** Who is calling, as the gateway verified it (contract 9). */
export interface Identity {
  tenant: string;
  subject: string;
  scopes: ReadonlySet<string>;
}

const principal = z.string().min(1).max(128);

/** The tenant a read may look at: `null` means any tenant (scope `conveyor:admin`). */
export function readTenant(identity: Identity): string | null {
  return identity.scopes.has('conveyor:admin') ? null : identity.tenant;
}

export function identityOf(res: Response): Identity {
  const identity = res.locals.identity as Identity | undefined;
  if (!identity) throw new Error('identity middleware did not run before this handler');
  return identity;
}

function sameSecret(given: string, expected: Buffer): boolean {
  const buffer = Buffer.from(given);
  return buffer.length === expected.length && timingSafeEqual(buffer, expected);
}

/**
 * Admits only requests that came through the gateway: the shared internal token must match, and
 * the identity headers the gateway sets must be present. Anything else is 401.
 */
export function requireIdentity(internalToken: string): RequestHandler {
  const expected = Buffer.from(internalToken);
  return (req, res, next) => {
    const token = req.headers['x-conveyor-internal-token'];
    if (typeof token !== 'string' || !sameSecret(token, expected)) {
      return next(new HttpError(401, 'unauthenticated'));
    }
    const tenant = principal.safeParse(req.headers['x-conveyor-tenant']);
    const subject = principal.safeParse(req.headers['x-conveyor-subject']);
    if (!tenant.success || !subject.success) return next(new HttpError(401, 'missing caller identity'));
    const scopes = req.headers['x-conveyor-scopes'];
    res.locals.identity = {
      tenant: tenant.data,
      subject: subject.data,
      scopes: new Set(typeof scopes === 'string' ? scopes.split(' ').filter(Boolean) : []),
    } satisfies Identity;
    next();
  };
}

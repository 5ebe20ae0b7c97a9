import type { Scope } from './routes.js';

/** A caller's verified identity, as taken from its token. */
export interface Principal {
  subject: string;
  tenant: string;
  scopes: string[];
  email?: string;
}

/** `admin` stands for every scope: operators act across tenants and operations. */
export function isAllowed(granted: readonly string[], required: Scope | 'authenticated' | null): boolean {
  if (required === null || required === 'authenticated') return true;
  return granted.includes('conveyor:admin') || granted.includes(required);
}

/** Scopes come as a space-separated `scope` string (OAuth 2) or an `scp` array (some IdPs). */
export function scopesFromClaims(claims: Record<string, unknown>): string[] {
  const { scope, scp } = claims;
  if (typeof scope === 'string') return scope.split(' ').filter(Boolean);
  if (Array.isArray(scp)) return scp.filter((s): s is string => typeof s === 'string');
  return [];
}

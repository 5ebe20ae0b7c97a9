import { randomUUID } from 'node:crypto';
import {
  SignJWT,
  createRemoteJWKSet,
  exportJWK,
  generateKeyPair,
  importJWK,
  importPKCS8,
  jwtVerify,
  calculateJwkThumbprint,
  type CryptoKey,
  type JWK,
  type JWTVerifyGetKey,
  type KeyObject,
} from 'jose';
import { LRUCache } from 'lru-cache';
import { scopesFromClaims, type Principal } from '../scopes.js';
import type { User } from './users.js';

/** Dev tokens are ES256; production IdPs sign RS256 or ES256. Nothing else is ever accepted. */
const DEV_ALG = 'ES256';
const REMOTE_ALGS = ['RS256', 'ES256'];

export interface TokenSettings {
  issuer: string;
  audience: string;
  ttlSeconds: number;
  tenantClaim: string;
  jwksUrl?: string;
  /** PKCS#8 PEM; a fresh key is generated when absent (tokens then die with the process). */
  devSigningKey?: string;
  /** Whether this gateway issues tokens itself (dev users). */
  issueTokens: boolean;
}

/**
 * A token verified once is trusted again, for at most this long and never past its expiry, without
 * redoing the signature check (the gateway's largest CPU cost per request). A key removed from the
 * IdP's set therefore stops working within this bound.
 */
const VERIFIED_TTL_MS = 60_000;
const VERIFIED_MAX_TOKENS = 10_000;

export class InvalidTokenError extends Error {
  constructor(message: string, options?: { cause: unknown }) {
    super(message, options);
    this.name = 'InvalidTokenError';
  }
}

export interface IssuedToken {
  accessToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
}

export interface TokenService {
  issue(user: User): Promise<IssuedToken>;
  verify(token: string): Promise<Principal>;
  /** The public half of the dev signing key, for `/.well-known/jwks.json`; null when not issuing. */
  publicJwks: { keys: JWK[] } | null;
}

interface DevKey {
  kid: string;
  privateKey: CryptoKey | KeyObject;
  publicJwk: JWK;
  publicKey: CryptoKey | KeyObject;
}

async function loadDevKey(pem: string | undefined): Promise<DevKey> {
  let privateKey: CryptoKey | KeyObject;
  if (pem) {
    privateKey = await importPKCS8(pem, DEV_ALG, { extractable: true });
  } else {
    privateKey = (await generateKeyPair(DEV_ALG, { extractable: true })).privateKey;
  }
  const { d: _d, ...publicJwk } = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const publicKey = (await importJWK({ ...publicJwk, alg: DEV_ALG }, DEV_ALG)) as CryptoKey | KeyObject;
  return { kid, privateKey, publicKey, publicJwk: { ...publicJwk, kid, alg: DEV_ALG, use: 'sig' } };
}

export async function createTokenService(settings: TokenSettings): Promise<TokenService> {
  const dev = settings.issueTokens ? await loadDevKey(settings.devSigningKey) : null;
  const remote = settings.jwksUrl ? createRemoteJWKSet(new URL(settings.jwksUrl)) : null;

  // Picks the key by the token's kid: our own dev key, else the IdP's key set. The algorithm is
  // pinned per key source, so an HS256 token "signed" with a public key never verifies.
  const getKey: JWTVerifyGetKey = async (header, token) => {
    if (dev && header.kid === dev.kid) {
      if (header.alg !== DEV_ALG) throw new InvalidTokenError(`algorithm ${header.alg} not allowed`);
      return dev.publicKey;
    }
    if (!remote) throw new InvalidTokenError('unknown signing key');
    if (!header.alg || !REMOTE_ALGS.includes(header.alg)) throw new InvalidTokenError(`algorithm ${header.alg} not allowed`);
    return remote(header, token);
  };
  const algorithms = dev && !remote ? [DEV_ALG] : REMOTE_ALGS;
  const verified = new LRUCache<string, Principal>({ max: VERIFIED_MAX_TOKENS, ttl: VERIFIED_TTL_MS, ttlAutopurge: false });

  return {
    publicJwks: dev ? { keys: [dev.publicJwk] } : null,

    async issue(user) {
      if (!dev) throw new Error('this gateway does not issue tokens');
      const accessToken = await new SignJWT({ tenant: user.tenant, scope: user.scopes.join(' '), email: user.email })
        .setProtectedHeader({ alg: DEV_ALG, kid: dev.kid, typ: 'JWT' })
        .setSubject(user.id)
        .setIssuer(settings.issuer)
        .setAudience(settings.audience)
        .setIssuedAt()
        .setNotBefore('0s')
        .setExpirationTime(`${settings.ttlSeconds}s`)
        .setJti(randomUUID())
        .sign(dev.privateKey);
      return { accessToken, tokenType: 'Bearer', expiresIn: settings.ttlSeconds };
    },

    async verify(token) {
      const known = verified.get(token);
      if (known) return known;
      let payload: Record<string, unknown>;
      try {
        ({ payload } = await jwtVerify(token, getKey, {
          algorithms,
          issuer: settings.issuer,
          audience: settings.audience,
          requiredClaims: ['sub', 'exp'],
          clockTolerance: 5,
        }));
      } catch (error) {
        throw new InvalidTokenError(error instanceof Error ? error.message : 'invalid token', { cause: error });
      }
      const tenant = payload[settings.tenantClaim];
      if (typeof tenant !== 'string' || tenant === '') throw new InvalidTokenError('token names no tenant');
      const principal: Principal = { subject: String(payload.sub), tenant, scopes: scopesFromClaims(payload) };
      if (typeof payload.email === 'string') principal.email = payload.email;
      const untilExpiry = Number(payload.exp) * 1000 - Date.now();
      if (untilExpiry > 0) verified.set(token, principal, { ttl: Math.min(VERIFIED_TTL_MS, untilExpiry) });
      return principal;
    },
  };
}

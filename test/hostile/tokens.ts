import { generateKeyPairSync } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, importPKCS8, importSPKI, SignJWT } from 'jose';

export interface Claims {
  sub: string;
  tenant: string;
  scope: string;
}

/**
 * Tokens an attacker (and a legitimate identity provider) could present. The gateway is started
 * with `signingKeyPem` as its dev key, so `valid` tokens are what it issues itself; every other
 * kind must be refused with 401.
 */
export interface TokenKit {
  signingKeyPem: string;
  valid: (claims: Claims, expiresIn?: string) => Promise<string>;
  expired: (claims: Claims) => Promise<string>;
  /** A valid token whose payload was edited afterwards (tenant swapped), signature kept. */
  tampered: (claims: Claims, tenant: string) => Promise<string>;
  /** Unsigned: header `alg: none`, empty signature. */
  algNone: (claims: Claims) => string;
  /** Well-formed and signed, but by a key the gateway does not trust (same kid). */
  foreignKey: (claims: Claims) => Promise<string>;
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

export async function createTokenKit(): Promise<TokenKit> {
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const key = await importPKCS8(pem, 'ES256');
  const kid = await calculateJwkThumbprint(
    await exportJWK(await importSPKI(pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(), 'ES256')),
  );
  const foreign = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const foreignKey = await importPKCS8(foreign.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 'ES256');

  const sign = (claims: Claims, signer: typeof key, exp: string | number) =>
    new SignJWT({ tenant: claims.tenant, scope: claims.scope })
      .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' })
      .setSubject(claims.sub)
      .setIssuer('conveyor-gateway')
      .setAudience('conveyor')
      .setIssuedAt(typeof exp === 'number' ? exp - 60 : undefined)
      .setExpirationTime(exp)
      .sign(signer);

  return {
    signingKeyPem: pem,
    valid: (claims, expiresIn = '10m') => sign(claims, key, expiresIn),
    expired: (claims) => sign(claims, key, Math.floor(Date.now() / 1000) - 120),
    tampered: async (claims, tenant) => {
      const [header, , signature] = (await sign(claims, key, '10m')).split('.');
      const now = Math.floor(Date.now() / 1000);
      const payload = { tenant, scope: claims.scope, sub: claims.sub, iss: 'conveyor-gateway', aud: 'conveyor', iat: now, exp: now + 600 };
      return `${header}.${b64(payload)}.${signature}`;
    },
    algNone: (claims) => {
      const now = Math.floor(Date.now() / 1000);
      const payload = { ...claims, iss: 'conveyor-gateway', aud: 'conveyor', iat: now, exp: now + 600 };
      return `${b64({ alg: 'none', typ: 'JWT', kid })}.${b64(payload)}.`;
    },
    foreignKey: (claims) => sign(claims, foreignKey, '10m'),
  };
}

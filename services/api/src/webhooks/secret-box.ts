import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Encrypts tenants' webhook signing secrets at rest: AES-256-GCM under a key derived (HKDF-SHA256)
 * from WEBHOOK_SECRETS_KEY, with the tenant as additional data, so a database dump alone reveals no
 * secret and a row copied to another tenant does not decrypt. Layout: version byte, 12-byte IV,
 * 16-byte tag, ciphertext.
 */
export interface SecretBox {
  seal(tenant: string, secret: string): Buffer;
  open(tenant: string, sealed: Buffer): string;
}

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export function createSecretBox(keyMaterial: string): SecretBox {
  if (keyMaterial.length < 16) throw new Error('the webhook secrets key must be at least 16 characters');
  const key = Buffer.from(hkdfSync('sha256', keyMaterial, 'conveyor', 'webhook-signing-secrets/v1', 32));
  return {
    seal(tenant, secret) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(Buffer.from(tenant));
      const encrypted = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
      return Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), encrypted]);
    },
    open(tenant, sealed) {
      if (sealed[0] !== VERSION) throw new Error(`unknown webhook secret encoding ${sealed[0]}`);
      const iv = sealed.subarray(1, 1 + IV_BYTES);
      const tag = sealed.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
      const decipher = createDecipheriv('aes-256-gcm', key, iv).setAAD(Buffer.from(tenant)).setAuthTag(tag);
      return Buffer.concat([decipher.update(sealed.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    },
  };
}

/** A new signing secret: `whsec_` and 32 random bytes, base64url. */
export function newSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

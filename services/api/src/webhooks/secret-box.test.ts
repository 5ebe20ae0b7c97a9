import { describe, expect, it } from 'vitest';
import { createSecretBox, newSigningSecret } from './secret-box.js';

describe('webhook secrets at rest', () => {
  const box = createSecretBox('a-key-of-enough-length-0123456789');
  const secret = newSigningSecret();

  it('round-trips, and the sealed bytes do not contain the secret', () => {
    const sealed = box.seal('acme', secret);
    expect(sealed.toString('latin1')).not.toContain(secret.slice(6, 20));
    expect(box.open('acme', sealed)).toBe(secret);
  });

  it('does not open under another tenant or another key, or after tampering', () => {
    const sealed = box.seal('acme', secret);
    expect(() => box.open('evil', sealed)).toThrow();
    expect(() => createSecretBox('another-key-of-enough-length-01').open('acme', sealed)).toThrow();
    const tampered = Buffer.from(sealed);
    tampered[tampered.length - 1]! ^= 1;
    expect(() => box.open('acme', tampered)).toThrow();
  });

  it('makes distinct secrets of 32 random bytes', () => {
    expect(secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(newSigningSecret()).not.toBe(secret);
  });
});

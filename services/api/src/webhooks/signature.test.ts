import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signWebhook, verifyWebhook } from './signature.js';

const secret = 'whsec_test';
const body = JSON.stringify({ jobId: '6c0f1f8e-8a3c-4a55-9d3e-5b1c0c0a2b11', status: 'success' });
const t = 1_700_000_000;

describe('webhook signatures', () => {
  it('signs as t=<seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">', () => {
    const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
    expect(signWebhook(secret, t, body)).toBe(`t=${t},v1=${expected}`);
  });

  it('verifies its own signature within the tolerance', () => {
    expect(verifyWebhook(secret, signWebhook(secret, t, body), body, 300, t + 299)).toEqual({ ok: true, timestamp: t });
  });

  it('refuses a tampered body', () => {
    const result = verifyWebhook(secret, signWebhook(secret, t, body), body.replace('success', 'failed'), 300, t);
    expect(result).toEqual({ ok: false, reason: 'signature does not match' });
  });

  it('refuses another secret', () => {
    expect(verifyWebhook('other', signWebhook(secret, t, body), body, 300, t).ok).toBe(false);
  });

  it('refuses a timestamp older (or further ahead) than the tolerance', () => {
    expect(verifyWebhook(secret, signWebhook(secret, t, body), body, 300, t + 301)).toEqual({
      ok: false,
      reason: 'timestamp outside the tolerance',
    });
    expect(verifyWebhook(secret, signWebhook(secret, t, body), body, 300, t - 301).ok).toBe(false);
  });

  it('refuses a replayed signature moved to a fresh timestamp', () => {
    const [, v1] = signWebhook(secret, t, body).split(',');
    expect(verifyWebhook(secret, `t=${t + 1000},${v1}`, body, 300, t + 1000).ok).toBe(false);
  });

  it('refuses missing or malformed headers', () => {
    expect(verifyWebhook(secret, undefined, body, 300, t).ok).toBe(false);
    expect(verifyWebhook(secret, 'v1=abcd', body, 300, t)).toEqual({ ok: false, reason: 'signature header has no timestamp' });
    expect(verifyWebhook(secret, `t=${t}`, body, 300, t)).toEqual({ ok: false, reason: 'signature header has no v1 signature' });
    expect(verifyWebhook(secret, `t=${t},v1=zz`, body, 300, t).ok).toBe(false);
  });

  it('accepts any of several v1 signatures (secret rotation)', () => {
    const old = signWebhook('old-secret', t, body).split(',')[1];
    const current = signWebhook(secret, t, body).split(',')[1];
    expect(verifyWebhook(secret, `t=${t},${old},${current}`, body, 300, t).ok).toBe(true);
  });

  it('signs with every valid secret while rotating, and either secret verifies alone', () => {
    const header = signWebhook([secret, 'whsec_previous'], t, body);
    expect(header.split(',')).toHaveLength(3);
    expect(verifyWebhook(secret, header, body, 300, t).ok).toBe(true);
    expect(verifyWebhook('whsec_previous', header, body, 300, t).ok).toBe(true);
    expect(verifyWebhook('whsec_other', header, body, 300, t).ok).toBe(false);
  });

  it('rejects a non-integer timestamp when signing', () => {
    expect(() => signWebhook(secret, 1.5, body)).toThrow(/unix seconds/);
  });
});

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPlatform, type Platform } from '../support/platform.js';
import { ConveyorClient } from './client.js';

/**
 * Prefer: wait (RFC 7240) on a submit, through the real gateway in front of the real api, bridge,
 * scheduler and workers: a job that ends in time is answered with its outcome, one that does not
 * with the usual 202.
 */
describe('submit with Prefer: wait through the gateway', () => {
  let platform: Platform;
  let demo: ConveyorClient;
  let other: ConveyorClient;
  const waitFor = (seconds: number | string) => ({ prefer: `wait=${seconds}` });

  beforeAll(async () => {
    platform = await startPlatform({
      pools: ['default', 'reports'],
      // Small results inline, a report (larger) in S3: both answers of a waited submit.
      workerEnv: { RESULT_INLINE_MAX_BYTES: '64' },
    });
    demo = new ConveyorClient(platform.gatewayUrl, await platform.login());
    other = new ConveyorClient(platform.gatewayUrl, await platform.login('admin@example.com', 'admin-password'));
    // A first job through both pools, so the waits below time the jobs, not the workers' start.
    expect((await demo.submit({ type: 'noop', payload: {} }, '/jobs', waitFor(30))).res.status).toBe(200);
  }, 240_000);
  afterAll(async () => {
    await platform?.stop();
  });

  it('answers a quick job with its result (200, Preference-Applied, Vary: Prefer)', async () => {
    const { res, body } = await demo.submit({ type: 'noop', payload: {} }, '/jobs', waitFor(10));
    expect(res.status).toBe(200);
    expect(body).toEqual({ ok: true });
    expect(res.headers.get('preference-applied')).toBe('wait=10');
    expect(res.headers.get('vary')).toMatch(/\bPrefer\b/i);
  });

  it('answers 202 as without the preference when the job outlasts the wait, after about that long', async () => {
    const started = Date.now();
    const { res, body } = await demo.submit({ type: 'sleep', payload: { ms: 20_000 } }, '/jobs', waitFor(2));
    const took = Date.now() - started;
    expect(res.status).toBe(202);
    expect(took).toBeGreaterThanOrEqual(2_000);
    expect(took).toBeLessThan(8_000);
    expect(res.headers.get('preference-applied')).toBeNull();
    expect(res.headers.get('location')).toBe(`/jobs/${String(body.jobId)}`);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(res.headers.get('vary')).toMatch(/\bPrefer\b/i);
    await demo.request(`/jobs/${String(body.jobId)}`, { method: 'DELETE' });
  });

  it('holds the longest wait (30 s) without the gateway or a server timeout cutting it short', async () => {
    const started = Date.now();
    const { res, body } = await demo.submit({ type: 'sleep', payload: { ms: 60_000 } }, '/jobs', waitFor(30));
    expect(res.status, JSON.stringify(body)).toBe(202);
    expect(Date.now() - started).toBeGreaterThanOrEqual(30_000);
    await demo.request(`/jobs/${String(body.jobId)}`, { method: 'DELETE' });
  }, 60_000);

  it('answers a job that failed in time with the failed job (200)', async () => {
    const { res, body } = await demo.submit({ type: 'sleep', payload: { ms: 10_000 }, timeoutSeconds: 1, maxAttempts: 1 }, '/jobs', waitFor(20));
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(res.headers.get('preference-applied')).toBe('wait=20');
    expect(body).toMatchObject({ status: 'failed', type: 'sleep', error: expect.any(String) });
  });

  it('answers a large result with 303 to its signed URL (POST /generate-report shares the submit)', async () => {
    const res = await demo.request('/generate-report', { method: 'POST', body: JSON.stringify({ format: 'json' }), headers: waitFor(30) });
    expect(res.status, await res.clone().text()).toBe(303);
    expect(res.headers.get('preference-applied')).toBe('wait=30');
    const stored = await fetch(res.headers.get('location')!);
    expect(stored.status).toBe(200);
    expect(await stored.json()).toMatchObject({ tenant: 'demo', totals: expect.any(Object) });
  });

  it('ignores a malformed wait (RFC 7240): 202 at once, no Preference-Applied; caps a longer one at 30 s', async () => {
    for (const prefer of ['wait=abc', 'wait=-1', 'wait']) {
      const started = Date.now();
      const { res } = await demo.submit({ type: 'sleep', payload: { ms: 3_000 } }, '/jobs', { prefer });
      expect(res.status, prefer).toBe(202);
      expect(Date.now() - started, prefer).toBeLessThan(2_000);
      expect(res.headers.get('preference-applied'), prefer).toBeNull();
    }
    const { res, body } = await demo.submit({ type: 'noop', payload: {} }, '/jobs', waitFor(3600));
    expect(res.status).toBe(200);
    expect(body).toEqual({ ok: true });
    expect(res.headers.get('preference-applied')).toBe('wait=30');
  });

  it('waits for the existing job on a repeated Idempotency-Key, and only within the caller’s tenant', async () => {
    const key = randomUUID();
    const job = { type: 'sleep', payload: { ms: 1_500 } };
    const first = await demo.submit(job, '/jobs', { 'idempotency-key': key });
    expect(first.res.status).toBe(202);
    const again = await demo.submit(job, '/jobs', { 'idempotency-key': key, ...waitFor(15) });
    expect(again.res.status).toBe(200);
    expect(again.body).toEqual({ sleptMs: 1_500 });

    // Another tenant's same key names no job of theirs: it creates its own, and waits for that one only.
    const slow = await demo.submit({ type: 'sleep', payload: { ms: 20_000 } }, '/jobs', { 'idempotency-key': key + '-slow' });
    const theirs = await other.submit({ type: 'sleep', payload: { ms: 20_000 } }, '/jobs', { 'idempotency-key': key + '-slow', ...waitFor(1) });
    expect(theirs.res.status).toBe(202);
    expect(theirs.body.jobId).not.toBe(slow.body.jobId);
    const quick = await other.submit({ type: 'noop', payload: {} }, '/jobs', { 'idempotency-key': key, ...waitFor(10) });
    expect(quick.res.status).toBe(200);
    expect(quick.body).toEqual({ ok: true });
    for (const [client, id] of [[demo, slow.body.jobId], [other, theirs.body.jobId]] as const) await client.request(`/jobs/${String(id)}`, { method: 'DELETE' });
  });
});

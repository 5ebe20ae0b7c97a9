import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { infra } from '../support/infra.js';
import { startPlatform, type Platform } from '../support/platform.js';
import type { ConveyorClient } from './client.js';
import { connectTo } from './connect.js';

/** The emulator under another name, as a client outside a cluster would reach an in-cluster S3. */
function publicNameOf(endpoint: string): string {
  const url = new URL(endpoint);
  url.hostname = url.hostname === 'localhost' ? '127.0.0.1' : 'localhost';
  return url.origin;
}

/**
 * Who may create value and where results are fetched from: points are granted only with the
 * points:grant scope and within the operator's cap; result URLs are signed for the S3 endpoint
 * clients reach (S3_PUBLIC_ENDPOINT), not the one the services use.
 */
describe('points grants and result URLs through the gateway', () => {
  const publicEndpoint = publicNameOf(infra.awsEndpoint);
  let platform: Platform;
  let demo: ConveyorClient;
  let admin: ConveyorClient;
  let db: pg.Pool;

  beforeAll(async () => {
    platform = await startPlatform({
      pools: ['default'],
      env: { S3_PUBLIC_ENDPOINT: publicEndpoint, POINTS_MAX_GRANT: '500' },
      // Every result goes to S3, so every result is a 303.
      workerEnv: { RESULT_INLINE_MAX_BYTES: '0' },
    });
    ({ demo, admin, db } = await connectTo(platform));
  }, 240_000);
  afterAll(async () => {
    await db?.end();
    await platform?.stop();
  });

  it('refuses a reservation without points:grant (403) or above the cap (422, with the reason), and grants within it', async () => {
    const reservation = (amount: number) => ({ userId: 'u-cap', amount, runAt: new Date().toISOString() });
    const denied = await demo.submit(reservation(5), '/points/reservations');
    expect(denied.res.status).toBe(403);
    expect(denied.body).toMatchObject({ error: 'insufficient scope', details: { required: 'points:grant' } });

    const over = await admin.submit(reservation(501), '/points/reservations');
    expect(over.res.status).toBe(422);
    expect(over.body).toMatchObject({ error: 'amount must be at most 500 points per reservation', details: { field: 'amount', max: 500 } });
    expect((await admin.submit(reservation(1_000_000_000), '/points/reservations')).res.status).toBe(422);
    expect((await admin.submit(reservation(1_000_000_001), '/points/reservations')).res.status).toBe(400);

    // One name per concept: runAt, as on POST /jobs; its deprecated name executeAt alone still works, both at once is a 400.
    const now = new Date().toISOString();
    const both = await admin.submit({ userId: 'u-cap', amount: 5, runAt: now, executeAt: now }, '/points/reservations');
    expect(both.res.status).toBe(400);
    expect(JSON.stringify(both.body)).toContain('give runAt (executeAt is its deprecated name), not both');
    expect((await admin.submit({ userId: 'u-cap', amount: 5 }, '/points/reservations')).res.status).toBe(400);

    const granted = await admin.submit(reservation(495), '/points/reservations');
    const deprecatedName = await admin.submit({ userId: 'u-cap', amount: 5, executeAt: now }, '/points/reservations');
    expect(deprecatedName.res.status).toBe(202);
    expect(await admin.waitForFinish(String(deprecatedName.body.jobId))).toMatchObject({ status: 'success' });
    expect(granted.res.status).toBe(202);
    expect(await admin.waitForFinish(String(granted.body.jobId))).toMatchObject({ status: 'success' });
    expect(await (await admin.request('/points/u-cap')).json()).toEqual({ userId: 'u-cap', balance: 500 });
    // Nothing of the refused ones was stored, in any tenant.
    const { rows } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM points_reservations WHERE user_id = 'u-cap'");
    expect(rows[0]!.n).toBe(2);
  }, 60_000);

  it('redirects to a result URL signed for S3_PUBLIC_ENDPOINT, which the client can follow', async () => {
    const { res, body } = await demo.submit({ type: 'noop', payload: {} });
    expect(res.status).toBe(202);
    expect(await demo.waitForFinish(String(body.jobId))).toMatchObject({ status: 'success' });
    const redirect = await demo.request(`/jobs/${body.jobId}/result`);
    expect(redirect.status).toBe(303);
    const location = redirect.headers.get('location')!;
    expect(location.startsWith(`${publicEndpoint}/${platform.bucket}/`), location).toBe(true);
    expect(location).toMatch(/X-Amz-Signature=/);
    const download = await fetch(location);
    expect(download.status).toBe(200);
    expect(await download.json()).toEqual({ ok: true });
  }, 60_000);
});

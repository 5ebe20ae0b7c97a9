import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayAs, startApi, type ApiUnderTest } from './support/api-under-test.js';

describe('points and notifications endpoints', () => {
  let env: ApiUnderTest;
  let alice: ReturnType<typeof gatewayAs>;
  let bob: ReturnType<typeof gatewayAs>;
  let otherTenant: ReturnType<typeof gatewayAs>;

  beforeAll(async () => {
    env = await startApi();
    alice = gatewayAs(env.api.url, { tenant: 'shop', subject: 'alice' });
    bob = gatewayAs(env.api.url, { tenant: 'shop', subject: 'bob' });
    otherTenant = gatewayAs(env.api.url, { tenant: 'rival', subject: 'alice' });
  });
  afterAll(async () => {
    await env?.stop();
  });

  it('stores a reservation and a points.grant job scheduled at executeAt, in one go', async () => {
    const executeAt = new Date(Date.now() + 3_600_000);
    const res = await alice('/points/reservations', { method: 'POST', body: { userId: 'u-1', amount: 250, executeAt: executeAt.toISOString() } });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { jobId: string; statusUrl: string; reservationId: string };
    expect(res.headers.get('location')).toBe(`/jobs/${body.jobId}`);
    expect(Number(res.headers.get('retry-after'))).toBe(60);
    const job = (await env.pool.query('SELECT * FROM jobs WHERE id = $1', [body.jobId])).rows[0];
    expect(job).toMatchObject({ type: 'points.grant', status: 'scheduled', tenant: 'shop', owner: 'alice' });
    expect(job.run_at.getTime()).toBe(executeAt.getTime());
    expect(job.payload).toEqual({ reservationId: body.reservationId, userId: 'u-1', amount: 250 });
    const reservation = (await env.pool.query('SELECT * FROM points_reservations WHERE id = $1', [body.reservationId])).rows[0];
    expect(reservation).toMatchObject({ tenant: 'shop', user_id: 'u-1', amount: '250', job_id: body.jobId });
    const status = await alice(body.statusUrl);
    expect(await status.json()).toMatchObject({ status: 'running', phase: 'scheduled' });
  });

  it('replays a reservation with the same Idempotency-Key and refuses another body with it', async () => {
    const body = { userId: 'u-2', amount: 10, executeAt: new Date(Date.now() + 60_000).toISOString() };
    const headers = { 'Idempotency-Key': 'resv-1' };
    const replies = await Promise.all(Array.from({ length: 5 }, () => alice('/points/reservations', { method: 'POST', body, headers })));
    expect(replies.map((r) => r.status)).toEqual([202, 202, 202, 202, 202]);
    const bodies = (await Promise.all(replies.map((r) => r.json()))) as Array<{ jobId: string; reservationId: string }>;
    expect(new Set(bodies.map((b) => b.jobId)).size).toBe(1);
    expect(new Set(bodies.map((b) => b.reservationId)).size).toBe(1);
    const { rows } = await env.pool.query("SELECT count(*)::int AS n FROM points_reservations WHERE user_id = 'u-2'");
    expect(rows[0].n).toBe(1);
    const conflict = await alice('/points/reservations', { method: 'POST', body: { ...body, amount: 11 }, headers });
    expect(conflict.status).toBe(409);
    const invalid = await alice('/points/reservations', { method: 'POST', body: { userId: 'u-2', amount: -5, executeAt: 'soon' } });
    expect(invalid.status).toBe(400);
    const paths = ((await invalid.json()) as { details: Array<{ path: string[] }> }).details.map((i) => i.path[0]).sort();
    expect(paths).toEqual(['amount', 'executeAt']);
  });

  it('reads a balance in the caller’s tenant only, 0 when there is none', async () => {
    await env.pool.query("INSERT INTO points_balances (tenant, user_id, balance) VALUES ('shop', 'u-9', 1234)");
    expect(await (await alice('/points/u-9')).json()).toEqual({ userId: 'u-9', balance: 1234 });
    expect(await (await otherTenant('/points/u-9')).json()).toEqual({ userId: 'u-9', balance: 0 });
    expect(await (await alice('/points/nobody')).json()).toEqual({ userId: 'nobody', balance: 0 });
    // A balance named like the reservations resource is still a balance.
    expect((await alice('/points/reservations')).status).toBe(200);
  });

  it("lists only the caller's unread notices and marks them read; anyone else's is 404", async () => {
    const job = (await (await alice('/jobs', { method: 'POST', body: { type: 'noop', payload: {} } })).json()) as { jobId: string };
    const insert = (tenant: string, owner: string, kind: string) =>
      env.pool.query(
        `INSERT INTO notifications (tenant, owner, job_id, kind, message) VALUES ($1, $2, $3, $4, 'job done') RETURNING id`,
        [tenant, owner, job.jobId, kind],
      ).then((r) => r.rows[0].id as string);
    const mine = [await insert('shop', 'alice', 'succeeded'), await insert('shop', 'alice', 'failed')];
    const bobs = await insert('shop', 'bob', 'cancelled');
    await insert('rival', 'alice', 'retried');

    const unread = (await (await alice('/notifications/unread')).json()) as { items: Array<{ id: string; jobId: string; kind: string; createdAt: string }> };
    expect(unread.items.map((n) => n.id).sort()).toEqual([...mine].sort());
    expect(unread.items[0]).toMatchObject({ jobId: job.jobId, message: 'job done', createdAt: expect.any(String) });

    expect((await bob(`/notifications/${mine[0]}/read`, { method: 'POST' })).status).toBe(404);
    expect((await otherTenant(`/notifications/${mine[0]}/read`, { method: 'POST' })).status).toBe(404);
    expect((await alice(`/notifications/${bobs}/read`, { method: 'POST' })).status).toBe(404);
    expect((await alice('/notifications/not-a-uuid/read', { method: 'POST' })).status).toBe(404);
    const read = await alice(`/notifications/${mine[0]}/read`, { method: 'POST' });
    expect(read.status).toBe(204);
    expect((await alice(`/notifications/${mine[0]}/read`, { method: 'POST' })).status).toBe(204);

    const after = (await (await alice('/notifications/unread')).json()) as { items: Array<{ id: string }> };
    expect(after.items.map((n) => n.id)).toEqual([mine[1]]);
    const bobsUnread = (await (await bob('/notifications/unread')).json()) as { items: Array<{ id: string }> };
    expect(bobsUnread.items.map((n) => n.id)).toEqual([bobs]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startPlatform, type Platform } from '../support/platform.js';
import { readUntil } from '../support/wait.js';
import type { ConveyorClient } from './client.js';
import { connectTo } from './connect.js';

interface PauseState {
  scope: string;
  name: string;
  paused: boolean;
  pausedBy: string | null;
  reason: string | null;
  held: number;
  released?: number;
}

/**
 * Pausing a job type and a tenant (issue 23) through the real gateway, api, bridge and scheduler,
 * with TWO workers of the default pool, on real Postgres, Kafka and the SQS emulator: jobs of a
 * paused type or tenant are accepted and held (none starts; others run), say why they wait, and
 * run exactly once after the resume; flapping pause/resume under load loses and repeats nothing.
 */
describe('pause and resume a job type or a tenant through the gateway, and reasons on the event stream', () => {
  let platform: Platform;
  let demo: ConveyorClient;
  let admin: ConveyorClient;
  let db: pg.Pool;

  const until = <T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 90_000) => readUntil(what, read, done, timeoutMs);
  const post = async (path: string, body?: unknown, client = admin) => {
    const res = await client.request(path, { method: 'POST', ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    return { status: res.status, body: (await res.json()) as PauseState };
  };
  const get = async (path: string) => (await (await admin.request(path)).json()) as PauseState;
  const submitMany = async (client: ConveyorClient, n: number, job: Record<string, unknown>) => {
    const { res, body } = await client.submit({ jobs: Array.from({ length: n }, () => job) }, '/jobs/batch');
    expect(res.status, JSON.stringify(body)).toBe(202);
    return (body.items as Array<{ jobId: string }>).map((item) => item.jobId);
  };
  /** Each job's status and how often it started. */
  const runs = async (ids: string[]) =>
    (
      await db.query<{ id: string; status: string; started: number; reason: string | null }>(
        `SELECT j.id, j.status, j.waiting_reason AS reason, (SELECT count(*)::int FROM job_events e WHERE e.job_id = j.id AND e.type = 'started') AS started
           FROM jobs j WHERE j.id = ANY($1)`,
        [ids],
      )
    ).rows;
  const waitingReason = async (id: string) => ((await demo.job(id)).body as { waitingReason?: string }).waitingReason;

  beforeAll(async () => {
    platform = await startPlatform({ pools: ['default'] });
    await platform.startWorker('default');
    ({ demo, admin, db } = await connectTo(platform));
  }, 240_000);
  afterAll(async () => {
    await db?.end();
    await platform?.stop();
  });

  it('refuses a tenant (403), an unknown job type (404) and a bad body (400)', async () => {
    expect((await demo.request('/job-types/sleep/pause', { method: 'POST' })).status).toBe(403);
    expect((await demo.request('/tenants/demo/resume', { method: 'POST' })).status).toBe(403);
    expect((await post('/job-types/no.such.type/pause')).status).toBe(404);
    expect((await post('/tenants/demo/pause', { reason: '' })).status).toBe(400);
    expect((await post('/tenants/demo/pause', { why: 'x' })).status).toBe(400);
    expect((await get('/tenants/demo/pause')).paused).toBe(false);
  });

  it('holds a paused type\'s jobs on every worker while other types run, then a paused tenant\'s, and runs each once after the resumes', async () => {
    expect(platform.services.workers).toHaveLength(2);
    const paused = await post('/job-types/sleep/pause', { reason: 'vendor outage' });
    expect(paused.status).toBe(200);
    expect(paused.body).toMatchObject({ scope: 'type', name: 'sleep', paused: true, reason: 'vendor outage', held: 0 });
    expect((await post('/job-types/sleep/pause')).body.reason, 'a repeat keeps the first pause').toBe('vendor outage');

    const sleeps = await submitMany(demo, 20, { type: 'sleep', payload: { ms: 20 } });
    const noops = await submitMany(demo, 5, { type: 'noop', payload: {} });
    // Another type of the same tenant and pool runs.
    await until('the noop jobs done', () => runs(noops), (rows) => rows.every((r) => r.status === 'success'));
    // Both workers received sleep messages and held the jobs in Postgres (their messages gone).
    const held = await until('20 sleep jobs held', () => get('/job-types/sleep/pause'), (s) => s.held === 20);
    expect(held.paused).toBe(true);
    const rows = await runs(sleeps);
    expect(rows.every((r) => r.status === 'queued' && r.started === 0 && r.reason === 'type_paused')).toBe(true);
    expect(await waitingReason(sleeps[0]!)).toBe('type_paused');

    // The tenant paused too: resuming the type releases nothing of demo's, and the reason says why.
    expect((await post('/tenants/demo/pause', { reason: 'billing' })).body).toMatchObject({ scope: 'tenant', name: 'demo', paused: true });
    const typeResumed = await post('/job-types/sleep/resume');
    // Still held: the tenant's pause covers them.
    expect(typeResumed.body).toMatchObject({ paused: false, released: 0, held: 20 });
    expect(await waitingReason(sleeps[0]!)).toBe('tenant_paused');
    // Another tenant's sleep jobs run meanwhile.
    const others = await submitMany(admin, 3, { type: 'sleep', payload: { ms: 20 } });
    await until('the admin tenant\'s jobs done', () => runs(others), (r) => r.every((x) => x.status === 'success'));
    expect((await runs(sleeps)).every((r) => r.started === 0)).toBe(true);
    expect((await get('/tenants/demo/pause')).held).toBe(20);
    expect((await (await admin.request('/pauses')).json()) as { items: PauseState[] }).toMatchObject({ items: [{ scope: 'tenant', name: 'demo', held: 20 }] });

    const resumed = await post('/tenants/demo/resume');
    expect(resumed.body).toMatchObject({ paused: false, released: 20 });
    const done = await until('the held jobs done', () => runs(sleeps), (r) => r.every((x) => x.status === 'success'));
    expect(done.map((r) => r.started)).toEqual(Array(20).fill(1));
    expect(done.every((r) => r.reason === null)).toBe(true);
  });

  /** The job's event stream as it stands (it ends after the terminal event): each event's type and data. */
  const stream = async (id: string) => {
    const res = await demo.request(`/jobs/${id}/events`, { headers: { accept: 'text/event-stream' } });
    expect(res.status).toBe(200);
    const text = await res.text();
    return [...text.matchAll(/^event: (.+)\ndata: (.+)$/gm)].map((m) => ({ type: m[1]!, data: (JSON.parse(m[2]!) as { data: Record<string, unknown> }).data }));
  };

  it('reports on the job\'s event stream when a waiting job\'s reason changes: paused, then a tenant limit, then running', async () => {
    const quota = await admin.request('/tenants/demo/quota', { method: 'PUT', body: JSON.stringify({ maxRunning: 1 }) });
    expect(quota.status).toBe(200);
    try {
      expect((await post('/job-types/sleep/pause')).status).toBe(200);
      const [first, second] = await submitMany(demo, 2, { type: 'sleep', payload: { ms: 8_000 } });
      await until('both held', () => get('/job-types/sleep/pause'), (s) => s.held === 2);
      expect((await post('/job-types/sleep/resume')).body.released).toBe(2);
      // One runs; the other waits for the tenant's only slot, and says so once however often it is tried.
      await until('one started, the other held by the limit', () => runs([first!, second!]), (r) => r.some((x) => x.started === 1) && r.some((x) => x.reason === 'tenant_concurrency_limit'));
      const later = (await runs([first!, second!])).find((x) => x.reason === 'tenant_concurrency_limit')!.id;
      expect(await waitingReason(later)).toBe('tenant_concurrency_limit');
      // The scheduler's per-tenant gauges say the same, from Postgres.
      const scrape = async () => (await fetch(`${platform.services.scheduler.opsUrl}/metrics`)).text();
      // (Each series also carries the service's own label.)
      const gauge = (name: string, labels: string, value: number) => new RegExp(`^${name}\\{${labels},service="scheduler"\\} ${value}$`, 'm');
      const metrics = await until('the per-tenant gauges', scrape, (text) => gauge('conveyor_tenant_at_limit', 'tenant="demo",limit="maxRunning"', 1).test(text), 20_000);
      expect(metrics).toMatch(gauge('conveyor_tenant_jobs_throttled', 'tenant="demo",reason="tenant_concurrency_limit"', 1));
      expect(metrics).toMatch(gauge('conveyor_tenant_jobs', 'tenant="demo",state="running"', 1));
      expect(metrics).toMatch(gauge('conveyor_tenant_jobs_throttled', 'tenant="demo",reason="type_paused"', 0));
      const events = await stream(later);
      const reasons = events.filter((e) => e.type === 'waiting' || e.type === 'started' || e.type === 'queued').map((e) => `${e.type}:${String(e.data.reason ?? '')}`);
      expect(reasons).toEqual(['waiting:type_paused', 'queued:resumed', 'waiting:tenant_concurrency_limit', 'started:']);
      expect(events.at(-1)!.type).toBe('succeeded');
    } finally {
      await admin.request('/tenants/demo/quota', { method: 'PUT', body: JSON.stringify({}) });
    }
  });

  it('loses and repeats nothing while a tenant is paused and resumed again and again under load', async () => {
    const ids = await submitMany(demo, 300, { type: 'sleep', payload: { ms: 5 } });
    for (let i = 0; i < 8; i++) {
      expect((await post('/tenants/demo/pause')).status).toBe(200);
      await new Promise((r) => setTimeout(r, 150 + Math.random() * 250));
      expect((await post('/tenants/demo/resume')).status).toBe(200);
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
    }
    const done = await until('every job done', () => runs(ids), (r) => r.every((x) => x.status === 'success'), 180_000);
    expect(done.filter((r) => r.started !== 1)).toEqual([]);
    const { rows } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM job_events WHERE job_id = ANY($1) AND type = 'waiting'", [ids]);
    // Whether any job was held depends on timing; the record of holds says so when it was.
    console.info(`flapping: ${rows[0]!.n} holds recorded among ${ids.length} jobs`);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { countJobsQuery, MAX_COUNT } from '../../services/api/src/search/counts.js';
import { createTokenKit } from '../hostile/tokens.js';
import { startPlatform, type Platform } from '../support/platform.js';
import { ConveyorClient } from './client.js';

interface Counts {
  counts: Record<string, number>;
  capped: string[];
  limit: number;
}

const STATUSES = ['scheduled', 'queued', 'processing', 'retrying', 'success', 'failed', 'cancelled'];
const zero = Object.fromEntries(STATUSES.map((s) => [s, 0]));
/** A day ahead: the job stays `scheduled`. */
const later = () => new Date(Date.now() + 86_400_000).toISOString();

/**
 * GET /jobs/counts and GET /jobs/events (issue 25: the console's Jobs list) through the real
 * gateway, api, bridge, scheduler and a worker on real Postgres, Kafka and the SQS emulator.
 */
describe('job counts and the jobs feed through the gateway', () => {
  let platform: Platform;
  let db: pg.Pool;
  let alpha: ConveyorClient;
  let beta: ConveyorClient;
  let admin: ConveyorClient;
  const started = new Date();

  const counts = async (client: ConveyorClient, query = ''): Promise<Counts> => {
    const res = await client.request(`/jobs/counts${query ? `?${query}` : ''}`);
    const body = (await res.json()) as Counts;
    expect(res.status, `${query}: ${JSON.stringify(body)}`).toBe(200);
    return body;
  };

  beforeAll(async () => {
    const tokens = await createTokenKit();
    platform = await startPlatform({ pools: ['default'], gatewayEnv: { JWT_DEV_SIGNING_KEY: tokens.signingKeyPem } });
    const as = async (tenant: string, scope = 'jobs:read jobs:write') => new ConveyorClient(platform.gatewayUrl, await tokens.valid({ sub: `${tenant}-user`, tenant, scope }, '30m'));
    [alpha, beta, admin] = await Promise.all([as('alpha'), as('beta'), as('ops', 'jobs:read jobs:write conveyor:admin')]);
    db = new pg.Pool({ connectionString: platform.database.url, max: 2 });

    // alpha: 3 that run to success, 2 scheduled for tomorrow (tagged), one of them cancelled.
    const done: string[] = [];
    for (let i = 0; i < 3; i++) done.push(String((await alpha.submit({ type: 'noop', payload: { i }, tags: ['run'] })).body.jobId));
    const waiting: string[] = [];
    for (let i = 0; i < 2; i++) waiting.push(String((await alpha.submit({ type: 'noop', payload: { i }, runAt: later(), tags: ['env:later'] })).body.jobId));
    expect((await alpha.request(`/jobs/${waiting[1]}`, { method: 'DELETE' })).status).toBe(200);
    for (const id of done) expect((await alpha.waitForFinish(id)).status).toBe('success');
  }, 240_000);

  afterAll(async () => {
    await db?.end();
    await platform?.stop();
  });

  it("counts the caller's jobs per status, every status present", async () => {
    expect(await counts(alpha)).toEqual({ counts: { ...zero, success: 3, scheduled: 1, cancelled: 1 }, capped: [], limit: MAX_COUNT });
  });

  it('applies the list filters: type, tags, time range', async () => {
    expect((await counts(alpha, 'type=sleep')).counts).toEqual(zero);
    expect((await counts(alpha, 'type=noop')).counts).toEqual({ ...zero, success: 3, scheduled: 1, cancelled: 1 });
    expect((await counts(alpha, 'tags=env:later')).counts).toEqual({ ...zero, scheduled: 1, cancelled: 1 });
    expect((await counts(alpha, 'tags=run,env:later')).counts).toEqual(zero);
    const ahead = new Date(Date.now() + 3_600_000).toISOString();
    expect((await counts(alpha, `from=${ahead}`)).counts).toEqual(zero);
    expect((await counts(alpha, `to=${started.toISOString()}`)).counts).toEqual(zero);
    expect((await counts(alpha, `from=${started.toISOString()}&to=${ahead}`)).counts).toEqual({ ...zero, success: 3, scheduled: 1, cancelled: 1 });
  });

  it("shows another tenant none of them, refuses it alpha's, and lets an admin count every tenant or one", async () => {
    expect(await counts(beta)).toEqual({ counts: zero, capped: [], limit: MAX_COUNT });
    const refused = await beta.request('/jobs/counts?tenant=alpha');
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: string }).error).toContain('conveyor:admin');
    expect((await counts(admin, 'tenant=alpha')).counts).toEqual({ ...zero, success: 3, scheduled: 1, cancelled: 1 });
    expect((await counts(admin, 'tenant=beta')).counts).toEqual(zero);
    await beta.submit({ type: 'noop', payload: {}, runAt: later() });
    expect((await counts(admin)).counts).toMatchObject({ success: 3, scheduled: 2, cancelled: 1 });
    expect((await counts(beta)).counts).toEqual({ ...zero, scheduled: 1 });
  });

  it('stops each count at the limit and says which were capped', async () => {
    expect(await counts(alpha, 'limit=2')).toEqual({ counts: { ...zero, success: 2, scheduled: 1, cancelled: 1 }, capped: ['success'], limit: 2 });
    expect(await counts(alpha, 'limit=3')).toEqual({ counts: { ...zero, success: 3, scheduled: 1, cancelled: 1 }, capped: [], limit: 3 });
  });

  it(`caps at ${MAX_COUNT} by default on a tenant with more, from an index-only scan`, async () => {
    // 10,050 finished jobs of tenant `big`, written as the store writes them (statuses and columns the CHECKs allow).
    await db.query(
      `INSERT INTO jobs (id, tenant, owner, type, payload, status, created_at, finished_at)
       SELECT gen_random_uuid(), 'big', 'big-user', 'noop', '{}', 'success', now() - make_interval(secs => g), now() FROM generate_series(1, $1) g`,
      [MAX_COUNT + 50],
    );
    await db.query("INSERT INTO jobs (id, tenant, owner, type, payload, status) SELECT gen_random_uuid(), 'big', 'big-user', 'noop', '{}', 'failed' FROM generate_series(1, 7)");
    await db.query('VACUUM ANALYZE jobs');
    const big = await counts(admin, 'tenant=big');
    expect(big).toEqual({ counts: { ...zero, success: MAX_COUNT, failed: 7 }, capped: ['success'], limit: MAX_COUNT });
    // Across tenants too: the walk stops at the cap however the tenants split it.
    expect(await counts(admin)).toMatchObject({ counts: { success: MAX_COUNT, failed: 7 }, capped: ['success'] });

    // The plan: every count reads jobs_tenant_status_created alone (index-only), never the table.
    const query = countJobsQuery({ tenant: 'big', limit: MAX_COUNT });
    const plan = (await db.query<{ 'QUERY PLAN': string }>({ text: `EXPLAIN ${query.text}`, values: query.values })).rows.map((r) => r['QUERY PLAN']).join('\n');
    expect(plan).toContain('Index Only Scan using jobs_tenant_status_created');
    expect(plan).not.toContain('Seq Scan');
    const across = countJobsQuery({ tenant: null, limit: MAX_COUNT });
    const acrossPlan = (await db.query<{ 'QUERY PLAN': string }>({ text: `EXPLAIN ${across.text}`, values: across.values })).rows.map((r) => r['QUERY PLAN']).join('\n');
    expect(acrossPlan).toContain('jobs_tenant_status_created');
    expect(acrossPlan).not.toContain('Seq Scan');
  });

  it('refuses bad filters with 400 and the reason', async () => {
    const refused = async (query: string) => {
      const res = await alpha.request(`/jobs/counts?${query}`);
      expect(res.status, query).toBe(400);
      return (await res.json()) as { error: string; details: Array<{ path: string[]; message: string }> };
    };
    expect((await refused('status=failed')).details[0]).toMatchObject({ code: 'unrecognized_keys' });
    expect((await refused('limit=0')).details[0]!.path).toEqual(['limit']);
    expect((await refused(`limit=${MAX_COUNT + 1}`)).details[0]!.path).toEqual(['limit']);
    const backwards = await refused(`from=${new Date().toISOString()}&to=${started.toISOString()}`);
    expect(backwards.details[0]).toMatchObject({ path: ['to'], message: 'must be later than from' });
    expect((await refused('from=yesterday')).details[0]!.path).toEqual(['from']);
    expect((await refused('tags=a,,b')).details[0]!.path[0]).toBe('tags');
  });

  it("streams a tenant's job events live on GET /jobs/events, none of another tenant's", async () => {
    const controller = new AbortController();
    const res = await alpha.request('/jobs/events', { headers: { accept: 'text/event-stream' }, signal: controller.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const seen: Array<{ jobId: string; type: string }> = [];
    const reading = (async () => {
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        for (const line of buffer.split('\n')) if (line.startsWith('data: ')) seen.push(JSON.parse(line.slice(6)) as { jobId: string; type: string });
        buffer = buffer.slice(buffer.lastIndexOf('\n') + 1);
      }
    })().catch(() => undefined);
    try {
      // Live from now: the jobs submitted above are not replayed.
      const theirs = String((await beta.submit({ type: 'noop', payload: {} })).body.jobId);
      const ours = String((await alpha.submit({ type: 'noop', payload: {} })).body.jobId);
      expect((await alpha.waitForFinish(ours)).status).toBe('success');
      await beta.waitForFinish(theirs);
      const deadline = Date.now() + 15_000;
      while (!seen.some((e) => e.jobId === ours && e.type === 'succeeded') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(seen.filter((e) => e.jobId === ours).map((e) => e.type)).toEqual(expect.arrayContaining(['created', 'succeeded']));
      expect(new Set(seen.map((e) => e.jobId))).toEqual(new Set([ours]));
    } finally {
      controller.abort();
      await reading;
    }
    const other = await beta.request('/jobs/events?tenant=alpha');
    expect(other.status).toBe(403);
    expect((await alpha.request('/jobs/events?status=failed')).status).toBe(400);
  });
});

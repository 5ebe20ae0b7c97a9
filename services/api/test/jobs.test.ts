import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CANCEL_CHANNEL } from '@conveyor/jobs';
import { rowLockedElsewhere } from '../../../test/support/database.js';
import { waitUntil } from '../../../test/support/wait.js';
import { gatewayAs, INTERNAL_TOKEN, startApi, type ApiUnderTest } from './support/api-under-test.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

describe('api job endpoints (real process, real Postgres and S3 emulator)', () => {
  let env: ApiUnderTest;
  let demo: ReturnType<typeof gatewayAs>;
  let other: ReturnType<typeof gatewayAs>;

  beforeAll(async () => {
    env = await startApi({ BODY_LIMIT_BYTES: String(64 * 1024) });
    demo = gatewayAs(env.api.url, { tenant: 'demo', subject: 'user-1' });
    other = gatewayAs(env.api.url, { tenant: 'other', subject: 'user-9' });
  });
  afterAll(async () => {
    await env?.stop();
  });

  const submit = (body: unknown, headers: Record<string, string> = {}) => demo('/jobs', { method: 'POST', body, headers });
  const jobRow = async (id: string) => (await env.pool.query('SELECT * FROM jobs WHERE id = $1', [id])).rows[0];

  it('refuses requests that did not come through the gateway, but serves the OpenAPI document to anyone', async () => {
    const none = await fetch(`${env.api.url}/jobs`);
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ error: 'unauthenticated', requestId: expect.any(String) });
    const wrong = await fetch(`${env.api.url}/jobs`, {
      headers: { 'x-conveyor-internal-token': `${INTERNAL_TOKEN}x`, 'x-conveyor-tenant': 'demo', 'x-conveyor-subject': 'u' },
    });
    expect(wrong.status).toBe(401);
    const noTenant = await fetch(`${env.api.url}/jobs`, { headers: { 'x-conveyor-internal-token': INTERNAL_TOKEN } });
    expect(noTenant.status).toBe(401);
    expect((await fetch(`${env.api.url}/openapi.json`)).status).toBe(200);
  });

  it('accepts a job: 202 with Location and Retry-After, stored queued with its trace and request id', async () => {
    const res = await submit(
      { type: 'sleep', payload: { ms: 10 }, maxAttempts: 5, priority: 3 },
      { traceparent: `00-${TRACE_ID}-00f067aa0ba902b7-01`, 'x-request-id': 'req-accept-1' },
    );
    expect(res.status).toBe(202);
    const body = (await res.json()) as { jobId: string; statusUrl: string };
    expect(body.statusUrl).toBe(`/jobs/${body.jobId}`);
    expect(res.headers.get('location')).toBe(`/jobs/${body.jobId}`);
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true);
    expect(res.headers.get('x-request-id')).toBe('req-accept-1');
    const row = await jobRow(body.jobId);
    expect(row).toMatchObject({ tenant: 'demo', owner: 'user-1', type: 'sleep', status: 'queued', max_attempts: 5, priority: 1, type_version: 1, pool: 'default' });
    expect(row.payload).toEqual({ ms: 10 });
    expect(row.published_at).toBeNull();
    expect(row.request_id).toBe('req-accept-1');
    expect(row.trace_id).toBe(TRACE_ID);
    expect(row.traceparent).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-0[01]$`));
  });

  it('takes a priority class, maps the deprecated integer by its sign, defaults to the type\'s class, and answers 422 listing the classes otherwise', async () => {
    // Stored as the class's code (packages/jobs/src/priority.ts): 1 high, 0 normal, -1 low.
    const cases: Array<[unknown, number]> = [['high', 1], ['normal', 0], ['low', -1], [3, 1], [0, 0], [-100, -1], [undefined, 0]];
    for (const [priority, code] of cases) {
      const res = await submit({ type: 'noop', payload: {}, priority });
      expect(res.status).toBe(202);
      expect((await jobRow(((await res.json()) as { jobId: string }).jobId)).priority).toBe(code);
    }
    for (const priority of ['urgent', 'HIGH', 101, 1.5, null, true]) {
      const res = await submit({ type: 'noop', payload: {}, priority });
      expect(res.status).toBe(422);
      const body = (await res.json()) as { error: string; details: Array<{ path: string[]; valid: string[] }> };
      expect(body.error).toMatch(/^priority must be one of high, normal, low/);
      expect(body.details).toEqual([expect.objectContaining({ path: ['priority'], valid: ['high', 'normal', 'low'] })]);
    }
    const batch = await demo('/jobs/batch', { method: 'POST', body: { jobs: [{ type: 'noop', payload: {} }, { type: 'noop', payload: {}, priority: 'urgent' }] } });
    expect(batch.status).toBe(422);
    expect(await batch.json()).toMatchObject({ details: { items: [{ index: 1, status: 422, details: [{ path: ['priority'], valid: ['high', 'normal', 'low'] }] }] } });
  });

  it('answers 400 with the zod issues for a bad envelope, 422 naming the field for an unknown type or an invalid payload', async () => {
    const unknown = await submit({ type: 'nope', payload: {} }, { 'x-request-id': 'req-bad-1' });
    expect(unknown.status).toBe(422);
    const unknownBody = (await unknown.json()) as { error: string; details: Array<{ path: string[] }>; requestId: string };
    expect(unknownBody.requestId).toBe('req-bad-1');
    expect(unknownBody.error).toBe('unknown job type "nope"');
    expect(unknownBody.details.map((i) => i.path)).toEqual([['type']]);

    const invalid = await submit({ type: 'sleep', payload: { ms: -1 } });
    expect(invalid.status).toBe(422);
    const invalidBody = (await invalid.json()) as { error: string; details: Array<{ path: unknown[]; keyword: string }> };
    expect(invalidBody.error).toBe('payload does not match the schema of sleep v1');
    expect(invalidBody.details[0]).toMatchObject({ path: ['payload', 'ms'], keyword: 'minimum', message: 'must be >= 0' });

    expect((await submit({ type: 'sleep' })).status).toBe(400);
    expect((await submit({ type: 'noop', payload: {}, maxAttempts: 0 })).status).toBe(400);
    expect((await submit({ type: 'noop', payload: {}, surprise: true })).status).toBe(400);
    expect((await submit({ type: 'noop', payload: {}, callbackUrl: 'ftp://x' })).status).toBe(400);
    expect((await submit({ type: 'noop', payload: {}, typeVersion: 99 })).status).toBe(422);
    // Grants are created only with their reservation.
    expect((await submit({ type: 'points.grant', payload: {} })).status).toBe(422);
    // What JSON Schema cannot say stays in the built-in's zod schema: still refused, with the path.
    const report = await submit({ type: 'report.generate', payload: { from: '2026-02-01T00:00:00Z', to: '2026-01-01T00:00:00Z' } });
    expect(report.status).toBe(422);
    expect(((await report.json()) as { details: Array<{ path: unknown[] }> }).details[0]!.path).toEqual(['payload', 'from']);
  });

  it('answers 413 over the body limit or the type’s payload limit, 400 for malformed JSON, 415 for non-JSON', async () => {
    const huge = await submit({ type: 'noop', payload: { blob: 'x'.repeat(70 * 1024) } });
    expect(huge.status).toBe(413);
    expect(await huge.json()).toMatchObject({ error: 'request body too large', requestId: expect.any(String) });
    const overType = await submit({ type: 'noop', payload: { blob: 'x'.repeat(20 * 1024) } });
    expect(overType.status).toBe(413);
    expect(await overType.json()).toMatchObject({ details: { maxPayloadBytes: 16 * 1024 } });
    const malformed = await demo('/jobs', { method: 'POST', rawBody: '{"type": "noop",', headers: { 'content-type': 'application/json' } });
    expect(malformed.status).toBe(400);
    const text = (await malformed.text());
    expect(JSON.parse(text)).toMatchObject({ error: 'malformed JSON body' });
    expect(text).not.toMatch(/at .*\.js/);
    const form = await demo('/jobs', { method: 'POST', rawBody: 'type=noop', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(form.status).toBe(415);
  });

  it('creates exactly one job for 20 concurrent identical requests with one Idempotency-Key; another body is 409', async () => {
    const body = { type: 'noop', payload: { order: 42, items: [1, 2] } };
    const replies = await Promise.all(Array.from({ length: 20 }, () => submit(body, { 'Idempotency-Key': 'order-42' })));
    expect(replies.map((r) => r.status)).toEqual(Array(20).fill(202));
    const ids = new Set(await Promise.all(replies.map(async (r) => ((await r.json()) as { jobId: string }).jobId)));
    expect(ids.size).toBe(1);
    const { rows } = await env.pool.query("SELECT count(*)::int AS n FROM jobs WHERE idempotency_key = 'order-42'");
    expect(rows[0].n).toBe(1);
    const conflict = await submit({ ...body, payload: { order: 43 } }, { 'Idempotency-Key': 'order-42' });
    expect(conflict.status).toBe(409);
    // Another tenant may use the same key for its own job.
    const theirs = await other('/jobs', { method: 'POST', body, headers: { 'Idempotency-Key': 'order-42' } });
    expect(theirs.status).toBe(202);
    expect(ids.has(((await theirs.json()) as { jobId: string }).jobId)).toBe(false);
    expect((await submit(body, { 'Idempotency-Key': 'has space' })).status).toBe(400);
  });

  it('answers a retried submission at once while its job is held by a failing Kafka send', async () => {
    // This api's namespace has no Kafka topics: its relay claims the job, then retries the send.
    const body = { type: 'noop', payload: { order: 77 } };
    const first = await submit(body, { 'Idempotency-Key': 'order-77' });
    const { jobId } = (await first.json()) as { jobId: string };
    const heldByRelay = () => rowLockedElsewhere(env.pool, 'jobs', jobId);
    await waitUntil(heldByRelay, 30_000, 'the relay to claim the job');
    const retried = await submit(body, { 'Idempotency-Key': 'order-77' });
    expect(retried.status).toBe(202);
    expect(((await retried.json()) as { jobId: string }).jobId).toBe(jobId);
    expect(await heldByRelay(), 'answered while the relay still held the job').toBe(true);
  });

  it('schedules a job with a future runAt and tells the client to come back when it is due', async () => {
    const runAt = new Date(Date.now() + 30_000).toISOString();
    const res = await submit({ type: 'noop', payload: {}, runAt });
    expect(res.status).toBe(202);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(29);
    const { jobId } = (await res.json()) as { jobId: string };
    const status = await demo(`/jobs/${jobId}`);
    expect(status.status).toBe(202);
    expect(await status.json()).toMatchObject({ jobId, status: 'running', phase: 'scheduled', runAt });
    expect(Number(status.headers.get('retry-after'))).toBeGreaterThanOrEqual(29);
  });

  it('runs the seed 003 report flow: 202 + Location + Retry-After, running, then an inline and an S3 result', async () => {
    const res = await demo('/generate-report', { method: 'POST', body: { format: 'csv' } });
    expect(res.status).toBe(202);
    const location = res.headers.get('location')!;
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const { jobId } = (await res.json()) as { jobId: string };
    expect(location).toBe(`/jobs/${jobId}`);
    expect((await jobRow(jobId)).payload).toEqual({ format: 'csv' });

    const queued = await demo(location);
    expect(queued.status).toBe(202);
    expect(await queued.json()).toMatchObject({ jobId, type: 'report.generate', status: 'running', phase: 'queued', attempts: 0 });
    expect((await demo(`${location}/result`)).status).toBe(409);
    expect(await (await demo(`${location}/result`)).json()).toMatchObject({ error: 'job not finished' });

    // The worker claims it and reports progress...
    await env.pool.query(
      "UPDATE jobs SET status = 'processing', attempts = 1, started_at = now(), heartbeat_at = now(), progress = 0.5 WHERE id = $1",
      [jobId],
    );
    const running = await demo(location);
    expect(running.status).toBe(202);
    expect(await running.json()).toMatchObject({ status: 'running', phase: 'processing', progress: 0.5, attempts: 1 });
    expect(running.headers.get('retry-after')).toMatch(/^\d+$/);

    // ...and finishes with a large CSV, kept in S3 as contract 7 says.
    const csv = `type,status,count\n${'noop,success,1\n'.repeat(5000)}`;
    const key = `results/demo/${jobId}`;
    await env.s3.send(new PutObjectCommand({ Bucket: env.bucket, Key: key, Body: csv, ContentType: 'text/csv' }));
    await env.pool.query(
      `UPDATE jobs SET status = 'success', progress = 1, finished_at = now(), result_key = $2,
              result = jsonb_build_object('contentType', 'text/csv', 'bytes', $3::int) WHERE id = $1`,
      [jobId, key, Buffer.byteLength(csv)],
    );
    const done = await demo(location);
    expect(done.status).toBe(200);
    expect(done.headers.get('retry-after')).toBeNull();
    const view = (await done.json()) as { status: string; downloadUrl: string };
    expect(view).toMatchObject({ status: 'success', downloadUrl: `${location}/result` });
    const redirect = await demo(view.downloadUrl);
    expect(redirect.status).toBe(303);
    const signed = redirect.headers.get('location')!;
    expect(signed).toContain(env.bucket);
    expect(signed).toMatch(/X-Amz-Signature=/);
    const download = await fetch(signed);
    expect(download.status).toBe(200);
    expect(await download.text()).toBe(csv);

    // A small JSON report is inline.
    const small = (await (await demo('/generate-report', { method: 'POST', body: {} })).json()) as { jobId: string };
    await env.pool.query(
      `UPDATE jobs SET status = 'success', finished_at = now(), result = '{"json": {"rows": [{"type": "noop", "count": 3}]}}' WHERE id = $1`,
      [small.jobId],
    );
    const inline = await demo(`/jobs/${small.jobId}/result`);
    expect(inline.status).toBe(200);
    expect(inline.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await inline.json()).toEqual({ rows: [{ type: 'noop', count: 3 }] });

    // Inline text keeps its content type.
    const text = (await (await demo('/generate-report', { method: 'POST', body: { format: 'csv' } })).json()) as { jobId: string };
    await env.pool.query(
      `UPDATE jobs SET status = 'success', finished_at = now(), result = '{"contentType": "text/csv", "text": "a,b\\n1,2\\n"}' WHERE id = $1`,
      [text.jobId],
    );
    const inlineText = await demo(`/jobs/${text.jobId}/result`);
    expect(inlineText.status).toBe(200);
    expect(inlineText.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(await inlineText.text()).toBe('a,b\n1,2\n');
  });

  it('shows failed and cancelled outcomes, whose results are 409 with the reason', async () => {
    const failed = (await (await submit({ type: 'noop', payload: {} })).json()) as { jobId: string };
    await env.pool.query("UPDATE jobs SET status = 'failed', error = 'handler exploded', finished_at = now() WHERE id = $1", [failed.jobId]);
    const view = await demo(`/jobs/${failed.jobId}`);
    expect(view.status).toBe(200);
    expect(await view.json()).toMatchObject({ status: 'failed', error: 'handler exploded' });
    const result = await demo(`/jobs/${failed.jobId}/result`);
    expect(result.status).toBe(409);
    expect(await result.json()).toMatchObject({ details: { status: 'failed', reason: 'handler exploded' } });
  });

  it('answers 404 for unknown, malformed and other tenants’ jobs on status, result and cancel', async () => {
    const { jobId } = (await (await submit({ type: 'noop', payload: {} })).json()) as { jobId: string };
    for (const path of [`/jobs/${jobId}`, `/jobs/${jobId}/result`]) {
      const res = await other(path);
      expect(res.status, path).toBe(404);
      expect(await res.json()).toMatchObject({ error: 'job not found' });
    }
    expect((await other(`/jobs/${jobId}`, { method: 'DELETE' })).status).toBe(404);
    expect((await jobRow(jobId)).status).toBe('queued');
    expect((await demo('/jobs/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await demo('/jobs/not-a-uuid')).status).toBe(404);
    expect((await demo("/jobs/1'%20OR%20'1'='1/result")).status).toBe(404);
    expect((await demo('/jobs/not-a-uuid', { method: 'DELETE' })).status).toBe(404);
    // Scope conveyor:admin reads and cancels across tenants, as it does everything else.
    const admin = gatewayAs(env.api.url, { tenant: 'admin', subject: 'root', scopes: 'jobs:read jobs:write conveyor:admin' });
    expect((await admin(`/jobs/${jobId}`)).status).toBe(202);
    const cancelled = await admin(`/jobs/${jobId}`, { method: 'DELETE' });
    expect(cancelled.status).toBe(200);
    expect((await jobRow(jobId)).status).toBe('cancelled');
  });

  it('cancels a waiting job at once (200), asks a processing one\'s worker to abort it (202, announced on the cancel channel), and answers repeats with the state reached', async () => {
    const waiting = (await (await submit({ type: 'noop', payload: {} })).json()) as { jobId: string };
    const cancel = await demo(`/jobs/${waiting.jobId}`, { method: 'DELETE' });
    expect(cancel.status).toBe(200);
    expect(await cancel.json()).toEqual({ jobId: waiting.jobId, status: 'cancelled' });
    const row = await jobRow(waiting.jobId);
    expect(row).toMatchObject({ status: 'cancelled', cancel_requested: true });
    expect(row.finished_at).not.toBeNull();
    const events = await env.pool.query('SELECT type FROM job_events WHERE job_id = $1 ORDER BY id', [waiting.jobId]);
    expect(events.rows.map((e) => e.type)).toEqual(['created', 'cancelled']);
    expect((await demo(`/jobs/${waiting.jobId}`)).status).toBe(200);
    const again = await demo(`/jobs/${waiting.jobId}`, { method: 'DELETE' });
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ jobId: waiting.jobId, status: 'cancelled' });
    const eventsAfter = await env.pool.query('SELECT type FROM job_events WHERE job_id = $1 ORDER BY id', [waiting.jobId]);
    expect(eventsAfter.rows.map((e) => e.type), 'a repeated cancel records nothing').toEqual(['created', 'cancelled']);
    expect(await (await demo(`/jobs/${waiting.jobId}/result`)).json()).toMatchObject({ details: { status: 'cancelled' } });

    const listener = await env.pool.connect();
    const announced: string[] = [];
    listener.on('notification', (n) => {
      if (n.channel === CANCEL_CHANNEL && n.payload) announced.push(n.payload);
    });
    await listener.query(`LISTEN ${CANCEL_CHANNEL}`);
    try {
      const busy = (await (await submit({ type: 'sleep', payload: { ms: 60_000 } })).json()) as { jobId: string };
      await env.pool.query("UPDATE jobs SET status = 'processing', attempts = 1, started_at = now() WHERE id = $1", [busy.jobId]);
      for (let i = 0; i < 2; i++) {
        const abort = await demo(`/jobs/${busy.jobId}`, { method: 'DELETE' });
        expect(abort.status, `DELETE #${i + 1} while the worker aborts`).toBe(202);
        expect(await abort.json()).toEqual({ jobId: busy.jobId, status: 'running', phase: 'processing' });
      }
      expect(await jobRow(busy.jobId)).toMatchObject({ status: 'processing', cancel_requested: true });
      expect(await (await demo(`/jobs/${busy.jobId}`)).json()).toMatchObject({ phase: 'processing', cancelRequested: true });
      await waitUntil(() => announced.length >= 2, 5_000, 'two cancel announcements');
      expect(announced).toEqual([busy.jobId, busy.jobId]);
    } finally {
      await listener.query(`UNLISTEN ${CANCEL_CHANNEL}`);
      listener.release();
    }

    const done = (await (await submit({ type: 'noop', payload: {} })).json()) as { jobId: string };
    await env.pool.query("UPDATE jobs SET status = 'success', finished_at = now() WHERE id = $1", [done.jobId]);
    const late = await demo(`/jobs/${done.jobId}`, { method: 'DELETE' });
    expect(late.status).toBe(409);
    expect(await late.json()).toMatchObject({ error: 'job already finished: success', details: { status: 'success' } });
  });

  it('answers 404 for unknown routes and 405 with Allow for a wrong method', async () => {
    const unknown = await demo('/nowhere');
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: 'not found', requestId: expect.any(String) });
    const wrong = await demo('/jobs', { method: 'PUT' });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET, HEAD, POST');
    const wrongItem = await demo('/jobs/00000000-0000-4000-8000-000000000000', { method: 'POST' });
    expect(wrongItem.status).toBe(405);
    expect(wrongItem.headers.get('allow')).toBe('DELETE, GET, HEAD');
  });
});

describe('GET /jobs pagination', () => {
  let env: ApiUnderTest;
  let lister: ReturnType<typeof gatewayAs>;
  const created: string[] = [];

  beforeAll(async () => {
    env = await startApi();
    lister = gatewayAs(env.api.url, { tenant: 'lister', subject: 'u' });
    for (let i = 0; i < 45; i++) {
      const body = i % 3 === 0 ? { type: 'sleep', payload: { ms: i } } : { type: 'noop', payload: { i } };
      const res = await lister('/jobs', { method: 'POST', body });
      created.push(((await res.json()) as { jobId: string }).jobId);
    }
    // Some finished, and one other tenant's job that must never show up.
    await env.pool.query("UPDATE jobs SET status = 'cancelled', finished_at = now() WHERE id = ANY($1)", [created.slice(0, 5)]);
    await gatewayAs(env.api.url, { tenant: 'else', subject: 'u' })('/jobs', { method: 'POST', body: { type: 'noop', payload: {} } });
  });
  afterAll(async () => {
    await env?.stop();
  });

  async function all(query: string, limit: number): Promise<{ ids: string[]; pages: number[] }> {
    const ids: string[] = [];
    const pages: number[] = [];
    let cursor: string | null = null;
    do {
      const res = await lister(`/jobs?limit=${limit}${query}${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      const page = (await res.json()) as { items: Array<{ jobId: string }>; nextCursor: string | null };
      ids.push(...page.items.map((j) => j.jobId));
      pages.push(page.items.length);
      cursor = page.nextCursor;
    } while (cursor);
    return { ids, pages };
  }

  it('walks all 45 jobs newest first in pages, without gaps or repeats', async () => {
    const { ids, pages } = await all('', 20);
    expect(pages).toEqual([20, 20, 5]);
    const { rows } = await env.pool.query("SELECT id FROM jobs WHERE tenant = 'lister' ORDER BY created_at DESC, id DESC");
    expect(ids).toEqual(rows.map((r) => r.id));
    expect(new Set(ids).size).toBe(45);
    const first = (await (await lister('/jobs')).json()) as { items: unknown[] };
    expect(first.items).toHaveLength(20);
  });

  it('filters by type and by status (running = any phase in flight)', async () => {
    const sleeps = await all('&type=sleep', 4);
    expect(sleeps.ids.sort()).toEqual(created.filter((_, i) => i % 3 === 0).sort());
    expect(sleeps.pages).toEqual([4, 4, 4, 3]);
    const cancelled = await all('&status=cancelled', 100);
    expect(cancelled.ids.sort()).toEqual(created.slice(0, 5).sort());
    const running = await all('&status=running', 100);
    expect(running.ids.sort()).toEqual(created.slice(5).sort());
    const both = await all('&status=cancelled&type=sleep', 100);
    expect(both.ids.sort()).toEqual(created.slice(0, 5).filter((_, i) => i % 3 === 0).sort());
    const item = ((await (await lister('/jobs?status=cancelled&limit=1')).json()) as { items: Array<Record<string, unknown>> }).items[0];
    expect(item).toMatchObject({ status: 'cancelled', type: expect.any(String), createdAt: expect.any(String) });
  });

  it('filters by phase as a Job names it (status=running&phase=queued), still takes a phase as status (deprecated), and refuses a phase with a final status', async () => {
    const queued = await all('&status=running&phase=queued', 100);
    expect(queued.ids.sort()).toEqual(created.slice(5).sort());
    expect((await all('&phase=queued', 100)).ids.sort()).toEqual(created.slice(5).sort());
    expect((await all('&phase=processing', 100)).ids).toEqual([]);
    expect((await all('&status=queued', 100)).ids.sort()).toEqual(created.slice(5).sort());
    const refused = await lister('/jobs?status=success&phase=queued');
    expect(refused.status).toBe(400);
    expect(JSON.stringify(await refused.json())).toContain('narrows status=running');
  });

  it('answers 400 for bad parameters and treats injection attempts as plain values', async () => {
    for (const query of ['limit=0', 'limit=101', 'limit=abc', 'status=done', 'cursor=abc', 'cursor=%27%3B--', 'sort=asc', 'status=queued&status=failed']) {
      const res = await lister(`/jobs?${query}`);
      expect(res.status, query).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'invalid request', details: expect.any(Array) });
    }
    const injection = await lister(`/jobs?type=${encodeURIComponent("noop' OR '1'='1")}`);
    expect(injection.status).toBe(200);
    expect(await injection.json()).toEqual({ items: [], nextCursor: null });
    const { rows } = await env.pool.query('SELECT count(*)::int AS n FROM jobs');
    expect(rows[0].n).toBe(46);
  });
});

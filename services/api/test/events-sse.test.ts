import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, createPool, type Pool } from '@conveyor/platform';
import { createJob, createOutboxSignal, migrateJobsSchema, recordJobEvent, type OutboxSignal, type Queryable } from '@conveyor/jobs';
import { createJobEventsHandler, type JobEventsHandler } from '../src/events/index.js';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.js';
import { waitUntil } from '../../../test/support/wait.js';

const logger = createLogger({ service: 'events-sse-test', level: 'warn' });

interface SseEvent {
  id: string;
  event: string;
  data: { jobId: string; type: string; data: Record<string, unknown>; createdAt: string };
}

/** A minimal EventSource reader over fetch: collects frames and comments until the server ends. */
function openStream(base: string, path: string, headers: Record<string, string>) {
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const controller = new AbortController();
  let status = 0;
  let responseHeaders = new Headers();
  let errorBody: unknown;
  const opened = fetch(`${base}${path}`, { headers, signal: controller.signal });
  const ended = opened.then(async (res) => {
    status = res.status;
    responseHeaders = res.headers;
    if (res.status !== 200) {
      errorBody = await res.json();
      return;
    }
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body!) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const fields: Record<string, string> = {};
          for (const line of frame.split('\n')) {
            if (line.startsWith(':')) comments.push(line);
            else {
              const i = line.indexOf(': ');
              if (i > 0) fields[line.slice(0, i)] = line.slice(i + 2);
            }
          }
          if (fields.data) events.push({ id: fields.id!, event: fields.event!, data: JSON.parse(fields.data) });
        }
      }
    } catch (error) {
      if (!controller.signal.aborted) throw error;
    }
  });
  return {
    events,
    comments,
    ended,
    get status() {
      return status;
    },
    get headers() {
      return responseHeaders;
    },
    get errorBody() {
      return errorBody;
    },
    opened,
    close: () => controller.abort(),
  };
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([promise, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms))]);
}

describe('GET /jobs/:jobId/events (handler mounted on a tiny express app standing in for the api router)', () => {
  let db: TestDatabase;
  let pool: Pool;
  let outbox: OutboxSignal;
  /** Writes as a worker does: each statement's events are announced (the outbox signal's NOTIFY). */
  let worker: Queryable;
  const servers: Array<{ server: Server; handler: JobEventsHandler }> = [];

  /** The api's router, reduced to the one route; identity headers come straight from the test. */
  async function mount(options: Partial<Parameters<typeof createJobEventsHandler>[0]> = {}) {
    // A safety poll far beyond any wait here: live events can only arrive through the writer's NOTIFY.
    const handler = createJobEventsHandler({ pool, logger, safetyPollMs: 600_000, ...options });
    const app = express();
    app.get('/jobs/events', handler.feed);
    app.get('/jobs/:jobId/events', handler);
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    servers.push({ server, handler });
    return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, handler };
  }

  const as = (tenant: string, extra: Record<string, string> = {}) => ({ 'x-conveyor-tenant': tenant, ...extra });

  async function newJob(tenant: string) {
    const outcome = await createJob(pool, { tenant, owner: `${tenant}-user`, type: 'noop', payload: {} });
    return outcome.jobId;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 8 });
    await migrateJobsSchema(pool);
    outbox = createOutboxSignal({ pool, logger });
    worker = outbox.track(pool);
  });

  afterAll(async () => {
    outbox?.stop();
    for (const { server, handler } of servers) {
      await handler.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
    await pool?.end();
    await db?.drop();
  });

  it('replays the stored events, then follows new ones live in order and ends after the terminal event', async () => {
    const { base } = await mount();
    const jobId = await newJob('acme');
    const stream = openStream(base, `/jobs/${jobId}/events`, as('acme'));
    await waitUntil(() => stream.events.length === 1, 5_000, 'the replayed created event');
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(stream.headers.get('cache-control')).toBe('no-cache');
    expect(stream.headers.get('x-accel-buffering')).toBe('no');

    await recordJobEvent(worker, jobId, 'started', { attempt: 1 });
    await waitUntil(() => stream.events.length === 2, 5_000, 'the live started event');
    await recordJobEvent(worker, jobId, 'progress', { progress: 0.5 });
    await recordJobEvent(worker, jobId, 'succeeded', {});
    await within(stream.ended, 5_000, 'the stream to end after the terminal event');

    expect(stream.events.map((e) => e.event)).toEqual(['created', 'started', 'progress', 'succeeded']);
    const ids = stream.events.map((e) => BigInt(e.id));
    expect([...ids].sort((a, b) => (a < b ? -1 : 1))).toEqual(ids);
    expect(new Set(ids).size).toBe(4);
    expect(stream.events[2]!.data).toMatchObject({ jobId, type: 'progress', data: { progress: 0.5 } });
    expect(Number.isNaN(Date.parse(stream.events[2]!.data.createdAt))).toBe(false);
  });

  it("replays every round of a job failed and then retried, ending at its latest terminal event, not its first", async () => {
    const { base } = await mount();
    const jobId = await newJob('acme');
    await recordJobEvent(worker, jobId, 'started', { attempt: 1 });
    await recordJobEvent(worker, jobId, 'failed', { attempt: 1, error: 'boom' });
    await recordJobEvent(worker, jobId, 'retried', { by: 'acme-user' });
    await recordJobEvent(worker, jobId, 'started', { attempt: 2 });
    const stream = openStream(base, `/jobs/${jobId}/events`, as('acme'));
    await waitUntil(() => stream.events.length === 5, 5_000, 'the replay of both rounds');
    await recordJobEvent(worker, jobId, 'succeeded', {});
    await within(stream.ended, 5_000, 'the stream to end after the second round');
    expect(stream.events.map((e) => e.event)).toEqual(['created', 'started', 'failed', 'retried', 'started', 'succeeded']);
  });

  it('replays events in id order when their ids gain a digit (9,999,999 then 10,000,000), not in text order', async () => {
    // Before: `id::text AS id ... ORDER BY id` sorted the text, so "10000000" came before "9999999",
    // the terminal event was sent before the job's first ones and the stream ended without them.
    await pool.query(`SELECT setval(pg_get_serial_sequence('job_events', 'id'), 9999998)`);
    const { base } = await mount();
    const jobId = await newJob('acme');
    await recordJobEvent(worker, jobId, 'started', { attempt: 1 });
    await pool.query(`UPDATE jobs SET status = 'success', finished_at = now() WHERE id = $1`, [jobId]);
    await recordJobEvent(worker, jobId, 'succeeded', {});
    const stream = openStream(base, `/jobs/${jobId}/events`, as('acme'));
    await within(stream.ended, 5_000, 'the replay of a finished job to end');
    expect(stream.events.map((e) => [e.id, e.event])).toEqual([
      ['9999999', 'created'],
      ['10000000', 'started'],
      ['10000001', 'succeeded'],
    ]);
  });

  it('resumes after Last-Event-ID (header or ?lastEventId=) with only the later events', async () => {
    const { base } = await mount();
    const jobId = await newJob('acme');
    await recordJobEvent(worker, jobId, 'started', {});
    const { rows } = await pool.query<{ id: string }>(`SELECT id::text FROM job_events WHERE job_id = $1 AND type = 'started'`, [jobId]);
    const startedId = rows[0]!.id;

    const viaHeader = openStream(base, `/jobs/${jobId}/events`, as('acme', { 'last-event-id': startedId }));
    await recordJobEvent(worker, jobId, 'progress', { progress: 0.9 });
    await waitUntil(() => viaHeader.events.length === 1, 5_000, 'the progress event');
    await pool.query(`UPDATE jobs SET status = 'failed', error = 'boom', finished_at = now() WHERE id = $1`, [jobId]);
    await recordJobEvent(worker, jobId, 'failed', { error: 'boom' });
    await within(viaHeader.ended, 5_000, 'the resumed stream to end');
    expect(viaHeader.events.map((e) => e.event)).toEqual(['progress', 'failed']);
    expect(viaHeader.events.every((e) => BigInt(e.id) > BigInt(startedId))).toBe(true);

    // The job is finished now: a resume replays what is left and ends at once.
    const viaQuery = openStream(base, `/jobs/${jobId}/events?lastEventId=${startedId}`, as('acme'));
    await within(viaQuery.ended, 5_000, 'the query-resumed stream to end');
    expect(viaQuery.events.map((e) => e.event)).toEqual(['progress', 'failed']);

    const caughtUp = openStream(base, `/jobs/${jobId}/events`, as('acme', { 'last-event-id': viaHeader.events[1]!.id }));
    await within(caughtUp.ended, 5_000, 'a caught-up stream of a finished job to end');
    expect(caughtUp.status).toBe(200);
    expect(caughtUp.events).toEqual([]);
  });

  it("answers 404 for another tenant's job and for unknown or invalid ids; 400 for a garbage Last-Event-ID", async () => {
    const { base } = await mount();
    const jobId = await newJob('acme');
    for (const [path, headers] of [
      [`/jobs/${jobId}/events`, as('globex')],
      ['/jobs/00000000-0000-4000-8000-000000000000/events', as('acme')],
      ['/jobs/not-a-uuid/events', as('acme')],
    ] as const) {
      const res = await fetch(`${base}${path}`, { headers: { ...headers, 'x-request-id': 'req-404' } });
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ error: 'job not found', requestId: 'req-404' });
    }
    const bad = await fetch(`${base}/jobs/${jobId}/events`, { headers: as('acme', { 'last-event-id': 'yesterday' }) });
    expect(bad.status).toBe(400);
    // An admin reads across tenants.
    const admin = openStream(base, `/jobs/${jobId}/events`, as('ops', { 'x-conveyor-scopes': 'jobs:read conveyor:admin' }));
    await waitUntil(() => admin.events.length === 1, 5_000, 'the admin stream');
    admin.close();
  });

  it('caps open streams per tenant (429) and overall (503), sends heartbeats, and frees slots on disconnect', async () => {
    const { base, handler } = await mount({ maxStreamsPerTenant: 2, maxStreams: 3, heartbeatMs: 100 });
    const jobs = await Promise.all(['a', 'a', 'a', 'b', 'c'].map((t) => newJob(`cap-${t}`)));
    const first = openStream(base, `/jobs/${jobs[0]}/events`, as('cap-a'));
    const second = openStream(base, `/jobs/${jobs[1]}/events`, as('cap-a'));
    await waitUntil(() => first.events.length === 1 && second.events.length === 1, 5_000, 'two open streams');

    const third = openStream(base, `/jobs/${jobs[2]}/events`, as('cap-a'));
    await third.ended;
    expect(third.status).toBe(429);
    expect(third.headers.get('retry-after')).toBeTruthy();
    expect(third.errorBody).toMatchObject({ error: expect.stringMatching(/too many/) });

    const other = openStream(base, `/jobs/${jobs[3]}/events`, as('cap-b'));
    await waitUntil(() => other.events.length === 1, 5_000, "another tenant's stream");
    const overflow = openStream(base, `/jobs/${jobs[4]}/events`, as('cap-c'));
    await overflow.ended;
    expect(overflow.status).toBe(503);
    expect(handler.openStreams).toBe(3);

    await waitUntil(() => first.comments.includes(': ping'), 5_000, 'a heartbeat comment');

    first.close();
    await waitUntil(() => handler.openStreams === 2, 5_000, 'the closed stream to release its slot');
    const again = openStream(base, `/jobs/${jobs[2]}/events`, as('cap-a'));
    await waitUntil(() => again.events.length === 1, 5_000, 'a stream in the freed slot');
    expect(again.status).toBe(200);
    for (const s of [second, other, again]) s.close();
    await waitUntil(() => handler.openStreams === 0, 5_000, 'all slots to be released');
  });

  it("GET /jobs/events: follows every job of the tenant live from now, none of another's; resumes after Last-Event-ID, replaying a bounded number", async () => {
    // Resumptions replay at most the 5 latest events (of every tenant).
    const { base } = await mount({ feedReplay: 5 });
    const before = await newJob('feed-a');
    const stream = openStream(base, '/jobs/events', as('feed-a'));
    await stream.opened;
    const [mine, theirs] = [await newJob('feed-a'), await newJob('feed-b')];
    await recordJobEvent(worker, mine, 'started', { attempt: 1 });
    await recordJobEvent(worker, theirs, 'started', { attempt: 1 });
    await recordJobEvent(worker, before, 'started', { attempt: 1 });
    await waitUntil(() => stream.events.length === 3, 5_000, "the tenant's live events");
    // Live from the connection on: `before`'s created event is not replayed; feed-b's events never show.
    expect(stream.events.map((e) => [e.data.jobId, e.event])).toEqual([[mine, 'created'], [mine, 'started'], [before, 'started']]);
    const admin = openStream(base, '/jobs/events', as('ops', { 'x-conveyor-scopes': 'conveyor:admin' }));
    await admin.opened;
    await recordJobEvent(worker, theirs, 'progress', { progress: 0.5 });
    await waitUntil(() => admin.events.some((e) => e.data.jobId === theirs), 5_000, "an admin's view of every tenant");
    stream.close();
    admin.close();

    // Events since: before created, mine created, theirs created, mine started, theirs started, before
    // started, theirs progress. Resuming after the first live one (mine created, the 5th latest)
    // replays the later ones of this tenant only.
    const resumed = openStream(base, '/jobs/events', as('feed-a', { 'last-event-id': stream.events[0]!.id }));
    await waitUntil(() => resumed.events.length === 2, 5_000, 'the replay after Last-Event-ID');
    expect(resumed.events.map((e) => e.id)).toEqual(stream.events.slice(1).map((e) => e.id));
    resumed.close();
    // From the start (id 0): the 5 latest events only, so neither created event of feed-a.
    const stale = openStream(base, '/jobs/events?lastEventId=0', as('feed-a'));
    await waitUntil(() => stale.events.length === 2, 5_000, 'the bounded replay');
    expect(stale.events.map((e) => e.id)).toEqual(stream.events.slice(1).map((e) => e.id));
    stale.close();

    const refused = openStream(base, '/jobs/events?tenant=feed-b', as('feed-a'));
    await refused.ended;
    expect(refused.status).toBe(403);
    const unknown = openStream(base, '/jobs/events?status=failed', as('feed-a'));
    await unknown.ended;
    expect(unknown.status).toBe(400);
    const garbage = openStream(base, '/jobs/events', as('feed-a', { 'last-event-id': 'x' }));
    await garbage.ended;
    expect(garbage.status).toBe(400);
  });
});

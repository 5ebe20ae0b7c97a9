import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, createPool, Registry, type Pool } from '@conveyor/platform';
import { createJob, migrateJobsSchema } from '@conveyor/jobs';
import { insertDeliveries } from '../src/webhooks/deliveries.repo.js';
import { listDeliveries, redeliver } from '../src/webhooks/log.queries.js';
import {
  createSecretBox,
  createWebhookMetrics,
  startWebhookDispatcher,
  STRICT_POLICY,
  targetPolicy,
  verifyWebhook,
  WebhookSecrets,
  type DispatcherOptions,
} from '../src/webhooks/index.js';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.js';
import { waitUntil } from '../../../test/support/wait.js';

const logger = createLogger({ service: 'webhook-dispatcher-test', level: 'silent' });

interface Hit {
  path: string;
  at: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One receiver on 127.0.0.1: /poison answers 503, everything else 204. */
async function startReceiver() {
  const hits: Hit[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      hits.push({ path: req.url ?? '', at: Date.now(), headers: req.headers, body });
      res.writeHead(req.url?.startsWith('/poison') ? 503 : 204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return { port, hits, close: () => new Promise((r) => server.close(r)) };
}

describe('webhook dispatcher (real Postgres, real HTTP receiver)', () => {
  let db: TestDatabase;
  let pool: Pool;
  let secrets: WebhookSecrets;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let nextEventId = 1;

  const start = (options: Partial<DispatcherOptions> = {}) =>
    startWebhookDispatcher({
      pool,
      secrets,
      policy: targetPolicy([], ['127.0.0.1/32']),
      logger,
      metrics: createWebhookMetrics(new Registry()),
      timeoutMs: 2_000,
      backoffBaseMs: 100,
      backoffMaxMs: 200,
      pollIntervalMs: 50,
      ...options,
    });

  async function store(tenant: string, url: string) {
    const { jobId } = await createJob(pool, { tenant, owner: `${tenant}-owner`, type: 'noop', payload: {} });
    const eventId = String(nextEventId++);
    await insertDeliveries(pool, [{ eventId, jobId, tenant, url, body: JSON.stringify({ jobId }) }]);
    return { jobId, eventId };
  }

  const statusOf = async (eventId: string) =>
    (await pool.query<{ status: string; failure_reason: string | null; attempts: number }>('SELECT status, failure_reason, attempts FROM webhook_deliveries WHERE event_id = $1', [eventId])).rows[0]!;

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 6 });
    await migrateJobsSchema(pool);
    secrets = new WebhookSecrets(pool, createSecretBox('dispatcher-test-key-0123'));
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver?.close();
    await pool?.end();
    await db?.drop();
  });

  it("isolates tenants: one tenant's failing endpoint opens only its own breaker, another's webhook to the same host goes at once", async () => {
    const dispatcher = start({ maxAttempts: 50 });
    try {
      const base = `http://127.0.0.1:${receiver.port}`;
      for (let i = 0; i < 3; i++) await store('noisy', `${base}/poison?n=${i}`);
      // Enough failures to open a breaker (5 at 50 %): the breaker the old per-host sender shared.
      await waitUntil(() => receiver.hits.filter((h) => h.path.startsWith('/poison')).length >= 5, 20_000, 'the poison attempts');
      const sent = Date.now();
      const { eventId } = await store('quiet', `${base}/ok`);
      await waitUntil(async () => (await statusOf(eventId)).status === 'delivered', 10_000, "the quiet tenant's webhook");
      const hit = receiver.hits.find((h) => h.path === '/ok')!;
      expect(hit.at - sent).toBeLessThan(2_000);
    } finally {
      await dispatcher.stop();
    }
  });

  it('gives a redelivered delivery the whole retry budget again, and logs every attempt in order', async () => {
    const dispatcher = start({ maxAttempts: 2 });
    try {
      const { jobId, eventId } = await store('redo', `http://127.0.0.1:${receiver.port}/poison-redo`);
      await waitUntil(async () => (await statusOf(eventId)).status === 'failed', 10_000, 'the first give-up');
      expect(await statusOf(eventId)).toEqual({ status: 'failed', failure_reason: 'attempts', attempts: 2 });
      const [delivery] = await listDeliveries(pool, jobId);
      expect(await redeliver(pool, jobId, delivery!.id, 'another-tenant')).toEqual({ kind: 'not-found' });
      expect(await redeliver(pool, jobId, delivery!.id, 'redo')).toEqual({ kind: 'redelivered' });
      expect(await redeliver(pool, jobId, delivery!.id, null)).toEqual({ kind: 'pending' });
      dispatcher.wake();
      // Two more attempts (not one: the budget counts from the redelivery), then given up again.
      await waitUntil(async () => (await statusOf(eventId)).status === 'failed', 10_000, 'the second give-up');
      expect(await statusOf(eventId)).toEqual({ status: 'failed', failure_reason: 'attempts', attempts: 4 });
      const [logged] = await listDeliveries(pool, jobId);
      expect(logged!.attemptLog.map((a) => [a.attempt, a.statusCode, a.nextAttemptAt === null])).toEqual([
        [1, 503, false],
        [2, 503, true],
        [3, 503, false],
        [4, 503, true],
      ]);
    } finally {
      await dispatcher.stop();
    }
  });

  it('refuses loopback by name and by literal when no one allowed it, without opening a connection', async () => {
    const dispatcher = start({ policy: STRICT_POLICY });
    try {
      const before = receiver.hits.length;
      const byName = await store('ssrf', `http://localhost:${receiver.port}/hook`);
      const byLiteral = await store('ssrf', `http://0x7f000001:${receiver.port}/hook`);
      for (const { eventId } of [byName, byLiteral]) {
        await waitUntil(async () => (await statusOf(eventId)).status === 'failed', 10_000, 'the refusal');
        expect(await statusOf(eventId)).toEqual({ status: 'failed', failure_reason: 'blocked', attempts: 1 });
      }
      expect(receiver.hits.length).toBe(before);
    } finally {
      await dispatcher.stop();
    }
  });

  it('keeps a delivery in Postgres across a stop: a new dispatcher finishes it', async () => {
    let first = start({ maxAttempts: 10, backoffBaseMs: 60_000, backoffMaxMs: 60_000, random: () => 1 });
    const { eventId, jobId } = await store('durable', `http://127.0.0.1:${receiver.port}/poison-then-ok`);
    await waitUntil(async () => (await statusOf(eventId)).attempts === 1, 10_000, 'the first failed attempt');
    await first.stop();
    // The retry is a minute away; make it due now, as time would, and let a new process take it.
    await pool.query("UPDATE webhook_deliveries SET next_attempt_at = now(), url = replace(url, 'poison-then-ok', 'ok') WHERE event_id = $1", [eventId]);
    first = start();
    try {
      await waitUntil(async () => (await statusOf(eventId)).status === 'delivered', 10_000, 'the delivery after the restart');
      const { rows } = await pool.query(
        'SELECT a.attempt, a.status_code FROM webhook_delivery_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE d.job_id = $1 ORDER BY attempt',
        [jobId],
      );
      expect(rows).toEqual([
        { attempt: 1, status_code: 503 },
        { attempt: 2, status_code: 204 },
      ]);
    } finally {
      await first.stop();
    }
  });

  it("signs with the tenant's own secret, and with both while a rotation overlaps", async () => {
    const dispatcher = start();
    try {
      const mine = (await secrets.forTenant('signer')).current.secret;
      const other = (await secrets.forTenant('someone-else')).current.secret;
      expect(mine).not.toBe(other);
      const first = await store('signer', `http://127.0.0.1:${receiver.port}/signed-1`);
      await waitUntil(async () => (await statusOf(first.eventId)).status === 'delivered', 10_000, 'the first webhook');
      const hit = receiver.hits.find((h) => h.path === '/signed-1')!;
      expect(verifyWebhook(mine, hit.headers['conveyor-signature'] as string, hit.body, 300).ok).toBe(true);
      expect(verifyWebhook(other, hit.headers['conveyor-signature'] as string, hit.body, 300).ok).toBe(false);

      const rotated = await secrets.rotate('signer', 3600);
      expect(rotated.previous?.secret).toBe(mine);
      const second = await store('signer', `http://127.0.0.1:${receiver.port}/signed-2`);
      await waitUntil(async () => (await statusOf(second.eventId)).status === 'delivered', 10_000, 'the second webhook');
      const after = receiver.hits.find((h) => h.path === '/signed-2')!;
      for (const secret of [mine, rotated.current.secret]) {
        expect(verifyWebhook(secret, after.headers['conveyor-signature'] as string, after.body, 300).ok).toBe(true);
      }
      const again = await secrets.rotate('signer', 0);
      expect(again.previous).toBeNull();
      expect((await pool.query("SELECT count(*)::int AS n FROM webhook_secrets WHERE tenant = 'signer'")).rows[0].n).toBeLessThanOrEqual(2);
      const stored = (await pool.query<{ ciphertext: Buffer }>("SELECT ciphertext FROM webhook_secrets WHERE tenant = 'signer'")).rows;
      for (const row of stored) expect(row.ciphertext.toString('latin1')).not.toContain('whsec_');
    } finally {
      await dispatcher.stop();
    }
  });
});

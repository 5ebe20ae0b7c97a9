import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startPlatform, type Platform } from '../support/platform.js';
import { startService, type RunningService } from '../support/service-process.js';
import { startWebhookReceiver } from '../support/webhook-receiver.js';
import { waitUntil } from '../support/wait.js';
import { ConveyorClient } from './client.js';

const EXAMPLE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../examples/webhooks/verify.mjs');

interface SecretReply {
  current: { id: string; secret: string; expiresAt: null };
  previous: { id: string; secret: string; expiresAt: string } | null;
}

/** examples/webhooks/verify.mjs run exactly as the README says, with its JSON lines collected. */
async function startExampleReceiver(secret: string) {
  const child: ChildProcess = spawn(process.execPath, [EXAMPLE], {
    env: { PATH: process.env.PATH, CONVEYOR_WEBHOOK_SECRET: secret, HOST: '127.0.0.2', PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Array<Record<string, unknown>> = [];
  let buffered = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const complete = buffered.split('\n');
    buffered = complete.pop()!;
    for (const line of complete.filter(Boolean)) lines.push(JSON.parse(line));
  });
  await waitUntil(() => lines.some((l) => l.listening), 10_000, 'the example receiver to listen');
  return {
    url: String(lines.find((l) => l.listening)!.listening),
    lines,
    stop: () => new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : (child.once('exit', resolve), child.kill('SIGTERM')))),
  };
}

describe('webhooks end to end: per-tenant secrets, rotation, the verification example, durable deliveries', () => {
  let platform: Platform;
  let client: ConveyorClient;
  let db: pg.Pool;
  let restartedApi: RunningService | undefined;

  const secret = async (): Promise<SecretReply> => {
    const res = await client.request('/webhooks/secret');
    expect(res.status).toBe(200);
    return (await res.json()) as SecretReply;
  };

  beforeAll(async () => {
    platform = await startPlatform({ pools: ['default'], env: { WEBHOOK_ALLOWED_HOSTS: '127.0.0.2' } });
    client = new ConveyorClient(platform.gatewayUrl, await platform.login());
    db = new pg.Pool({ connectionString: platform.database.url, max: 2 });
  }, 240_000);
  afterAll(async () => {
    await restartedApi?.stop('SIGKILL');
    await db?.end();
    await platform?.stop();
  });

  it('examples/webhooks/verify.mjs, run as written, verifies a real webhook and refuses a forged one', async () => {
    const { current } = await secret();
    expect(current.secret).toMatch(/^whsec_/);
    const example = await startExampleReceiver(current.secret);
    try {
      const { body } = await client.submit({ type: 'noop', payload: {}, callbackUrl: `${example.url}/hooks/conveyor` });
      await waitUntil(() => example.lines.some((l) => l.verified === true), 60_000, 'the verified webhook');
      expect(example.lines.find((l) => l.verified === true)).toMatchObject({ eventId: expect.any(String), event: { jobId: body.jobId, status: 'success' } });

      const forged = await fetch(`${example.url}/hooks/conveyor`, {
        method: 'POST',
        headers: { 'conveyor-signature': `t=${Math.floor(Date.now() / 1000)},v1=${'0'.repeat(64)}` },
        body: JSON.stringify({ jobId: body.jobId, status: 'success' }),
      });
      expect(forged.status).toBe(400);
      // The receiver prints its line before it answers, but the pipe may reach this process after the answer.
      await waitUntil(() => example.lines.some((l) => l.verified === false), 10_000, "the receiver's line for the forged request");
      expect(example.lines.filter((l) => l.verified === false)).toEqual([expect.objectContaining({ reason: 'signature does not match' })]);
    } finally {
      await example.stop();
    }
  }, 120_000);

  it('rotation keeps two secrets valid: receivers holding either one verify the next webhook', async () => {
    const before = await secret();
    const res = await client.request('/webhooks/secret/rotate', { method: 'POST', body: JSON.stringify({ previousValidForSeconds: 600 }) });
    expect(res.status).toBe(200);
    const rotated = (await res.json()) as SecretReply;
    expect(rotated.current.secret).not.toBe(before.current.secret);
    expect(rotated.previous).toMatchObject({ secret: before.current.secret, expiresAt: expect.any(String) });
    expect(await secret()).toEqual(rotated);

    const receivers = await Promise.all([startExampleReceiver(before.current.secret), startExampleReceiver(rotated.current.secret)]);
    try {
      for (const receiver of receivers) {
        await client.submit({ type: 'noop', payload: {}, callbackUrl: `${receiver.url}/hooks/conveyor` });
        await waitUntil(() => receiver.lines.some((l) => 'verified' in l), 60_000, 'a webhook at each receiver');
        expect(receiver.lines.filter((l) => 'verified' in l)).toEqual([expect.objectContaining({ verified: true })]);
      }
    } finally {
      await Promise.all(receivers.map((r) => r.stop()));
    }
  }, 120_000);

  it('a delivery waiting for its retry survives kill -9 of the api and is sent by the next one', async () => {
    const receiver = await startWebhookReceiver();
    try {
      // /poison answers 503: the first attempt fails and a retry is stored.
      const { body } = await client.submit({ type: 'noop', payload: {}, callbackUrl: `${receiver.base}/poison-until-restart` });
      const jobId = String(body.jobId);
      const recorded = async () => (await db.query('SELECT attempts FROM webhook_deliveries WHERE job_id = $1', [jobId])).rows[0]?.attempts >= 1;
      await waitUntil(recorded, 60_000, 'the first attempt on record');
      const { api } = platform.services;
      await api.stop('SIGKILL');
      // The receiver recovers while no api runs (the stored URL now reaches its healthy path).
      await db.query("UPDATE webhook_deliveries SET url = replace(url, '/poison-until-restart', '/recovered') WHERE job_id = $1", [jobId]);
      restartedApi = await startService('api', { ...platform.env, PORT: String(api.port) });
      await waitUntil(() => receiver.hits.some((h) => h.path === '/recovered'), 60_000, 'the delivery after the restart');
      const delivered = async () => (await db.query('SELECT status FROM webhook_deliveries WHERE job_id = $1', [jobId])).rows[0]?.status === 'delivered';
      await waitUntil(delivered, 10_000, 'the delivery on record');
      const { rows } = await db.query(
        'SELECT d.status, a.attempt, a.status_code FROM webhook_deliveries d JOIN webhook_delivery_attempts a ON a.delivery_id = d.id WHERE d.job_id = $1 ORDER BY a.attempt',
        [jobId],
      );
      expect(rows.at(-1)).toEqual({ status: 'delivered', attempt: rows.length, status_code: 204 });
      expect(rows[0]).toMatchObject({ attempt: 1, status_code: 503 });
    } finally {
      await receiver.close();
    }
  }, 180_000);
});

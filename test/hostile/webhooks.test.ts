import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startPlatform, type Platform } from '../support/platform.js';
import { startWebhookReceiver } from '../support/webhook-receiver.js';
import { waitUntil } from '../support/wait.js';
import { ConveyorClient } from '../e2e/client.js';
import { createTokenKit, type TokenKit } from './tokens.js';
import { verifyWebhook } from '../../services/api/src/webhooks/signature.js';

/** Every notation WHATWG URL reads as the IPv4 address `a`: dotted, short, integer, hex, octal, inside IPv6. */
function ipv4Notations(a: string): string[] {
  const octets = a.split('.').map(Number) as [number, number, number, number];
  const n = octets.reduce((sum, o) => sum * 256 + o, 0);
  const hex = (v: number) => `0x${v.toString(16)}`;
  const groups = `${((octets[0] << 8) | octets[1]).toString(16)}:${((octets[2] << 8) | octets[3]).toString(16)}`;
  return [
    a,
    String(n),
    hex(n),
    octets.map((o) => `0${o.toString(8)}`).join('.'),
    octets.map(hex).join('.'),
    `${octets[0]}.${(octets[1] << 16) + (octets[2] << 8) + octets[3]}`,
    `${octets[0]}.${octets[1]}.${(octets[2] << 8) + octets[3]}`,
    `[::ffff:${a}]`,
    `[0:0:0:0:0:ffff:${groups}]`,
    `[::${a}]`,
  ];
}

const REFUSED_IPV4 = ['127.0.0.1', '169.254.169.254', '10.0.0.1', '172.16.0.1', '192.168.0.1', '100.64.0.1', '0.0.0.0', '224.0.0.1'];
const REFUSED_IPV6 = ['[::1]', '[::]', '[fd00::1]', '[fe80::1]', '[fd00:ec2::254]', '[ff02::1]', '[64:ff9b::7f00:1]'];

/**
 * Tenants against each other and against the platform through webhooks (issue 28, items 1-4),
 * each case with tenants of its own. The api allows one receiver address, 127.0.0.2, the way an
 * operator would (WEBHOOK_ALLOWED_HOSTS); everything else private stays refused.
 */
describe('hostile webhooks: noisy neighbours, credentials, SSRF, forged signatures', () => {
  let platform: Platform;
  let tokens: TokenKit;
  let db: pg.Pool;
  let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
  const as = async (tenant: string) =>
    new ConveyorClient(platform.gatewayUrl, await tokens.valid({ sub: `${tenant}-user`, tenant, scope: 'jobs:read jobs:write' }));
  const apiLog = () => platform.services.api.output();
  const delivery = async (jobId: string) =>
    (await db.query<{ status: string; failure_reason: string | null }>('SELECT status, failure_reason FROM webhook_deliveries WHERE job_id = $1', [jobId])).rows[0];

  beforeAll(async () => {
    tokens = await createTokenKit();
    receiver = await startWebhookReceiver();
    platform = await startPlatform({
      pools: ['default'],
      gatewayEnv: { JWT_DEV_SIGNING_KEY: tokens.signingKeyPem },
      env: { WEBHOOK_ALLOWED_HOSTS: '127.0.0.2' },
    });
    db = new pg.Pool({ connectionString: platform.database.url, max: 2 });
  }, 240_000);
  afterAll(async () => {
    await db?.end();
    await platform?.stop();
    await receiver?.close();
  });

  it("item 1: a tenant whose endpoint fails does not hold up another tenant's webhook to the same receiver", async () => {
    const noisy = await as('wh-noisy');
    const victim = await as('wh-victim');
    // The reported scenario: three jobs whose callback carries credentials to the shared receiver.
    const exact = await Promise.all(
      [1, 2, 3].map(() => noisy.submit({ type: 'noop', payload: {}, callbackUrl: `http://u:p@${receiver.base.slice('http://'.length)}/poison` })),
    );
    // The same without credentials, which the receiver fails until a circuit breaker opens.
    for (let i = 0; i < 3; i++) {
      const { res } = await noisy.submit({ type: 'noop', payload: {}, callbackUrl: `${receiver.base}/poison?job=${i}` });
      expect(res.status).toBe(202);
    }
    await waitUntil(() => apiLog().includes('webhook circuit opened'), 60_000, 'the circuit of the failing endpoint to open');

    const { res, body } = await victim.submit({ type: 'noop', payload: {}, callbackUrl: `${receiver.base}/victim` });
    expect(res.status).toBe(202);
    const finished = await victim.waitForFinish(String(body.jobId));
    await waitUntil(() => receiver.hits.some((h) => h.path === '/victim'), 60_000, "the victim's webhook");
    const lateBy = receiver.hits.find((h) => h.path === '/victim')!.at - Date.parse(String(finished.finishedAt));
    expect(lateBy, `the victim's webhook arrived ${lateBy} ms after its job finished`).toBeLessThan(5_000);

    for (const { res: refused, body: reason } of exact) {
      expect(refused.status).toBe(422);
      expect(String(reason.error)).toMatch(/credentials/);
    }
  }, 120_000);

  it('item 2: refuses credentials in a callbackUrl (422) and never logs a URL secret in clear', async () => {
    const tenant = await as('wh-creds');
    for (const callbackUrl of [`http://user:hunter2@${receiver.base.slice('http://'.length)}/hook`, 'https://user@hooks.example.com/in', 'https://:hunter2@hooks.example.com/in']) {
      const { res, body } = await tenant.submit({ type: 'noop', payload: {}, callbackUrl });
      expect(res.status, callbackUrl).toBe(422);
      expect(body).toMatchObject({ error: expect.stringMatching(/must not contain credentials/), details: [{ path: ['callbackUrl'] }] });
    }
    // A token in the query is allowed (a common way receivers authenticate), but never logged.
    const { body } = await tenant.submit({ type: 'noop', payload: {}, callbackUrl: `${receiver.base}/gone?token=s3cr3t-query-token&x=1` });
    await tenant.waitForFinish(String(body.jobId));
    await waitUntil(async () => (await delivery(String(body.jobId)))?.status === 'failed', 30_000, 'the refused delivery');
    await waitUntil(() => apiLog().includes('webhook given up'), 5_000, 'the log line');
    expect(apiLog()).toContain('token=[redacted]&x=1');
    expect(apiLog()).not.toContain('s3cr3t-query-token');
    expect(apiLog()).not.toContain('hunter2');
  }, 60_000);

  it('item 3: refuses private, loopback, link-local, metadata and reserved literals in every notation (422), and names resolving to them at connect', async () => {
    const tenant = await as('wh-ssrf');
    const hosts = [...REFUSED_IPV4.flatMap(ipv4Notations), ...REFUSED_IPV6];
    for (const host of hosts) {
      const callbackUrl = `http://${host}:8081/latest/meta-data/`;
      const { res, body } = await tenant.submit({ type: 'noop', payload: {}, callbackUrl });
      expect(res.status, `${callbackUrl}: ${JSON.stringify(body)}`).toBe(422);
      expect(String(body.error)).toMatch(/address: webhooks go to public addresses only/);
    }
    // A name is not resolved at submit; the connection checks every address it resolves to.
    const internal = await startWebhookReceiver('127.0.0.1');
    try {
      const { res, body } = await tenant.submit({ type: 'noop', payload: {}, callbackUrl: `${internal.base.replace('127.0.0.1', 'localhost')}/admin` });
      expect(res.status).toBe(202);
      await tenant.waitForFinish(String(body.jobId));
      await waitUntil(async () => (await delivery(String(body.jobId)))?.status === 'failed', 30_000, 'the blocked delivery');
      expect(await delivery(String(body.jobId))).toEqual({ status: 'failed', failure_reason: 'blocked' });
      expect(internal.hits).toHaveLength(0);
    } finally {
      await internal.close();
    }
  }, 120_000);

  it("item 4: each tenant signs with its own secret: one tenant can neither read nor forge another's", async () => {
    const target = await as('wh-target');
    const forger = await as('wh-forger');
    const secretOf = async (client: ConveyorClient, headers: Record<string, string> = {}) => {
      const res = await client.request('/webhooks/secret', { headers });
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      return (await res.json()) as { current: { secret: string }; previous: { secret: string } | null };
    };
    const targetSecret = (await secretOf(target)).current.secret;
    const forgerSecret = (await secretOf(forger)).current.secret;
    expect(forgerSecret).not.toBe(targetSecret);
    // Spoofed identity headers and a tenant in the query change nothing.
    expect((await secretOf(forger, { 'x-conveyor-tenant': 'wh-target' })).current.secret).toBe(forgerSecret);
    const byQuery = (await (await forger.request('/webhooks/secret?tenant=wh-target')).json()) as { current: { secret: string } };
    expect(byQuery.current.secret).toBe(forgerSecret);

    const { body } = await target.submit({ type: 'noop', payload: {}, callbackUrl: `${receiver.base}/target` });
    await waitUntil(() => receiver.hits.some((h) => h.path === '/target'), 60_000, "the target's webhook");
    const hit = receiver.hits.find((h) => h.path === '/target')!;
    expect(JSON.parse(hit.body)).toMatchObject({ jobId: body.jobId, status: 'success' });
    const signature = String(hit.headers['conveyor-signature']);
    expect(verifyWebhook(targetSecret, signature, hit.body, 300).ok).toBe(true);
    expect(verifyWebhook(forgerSecret, signature, hit.body, 300).ok).toBe(false);

    // The forger rotating its own secret touches nothing of the target's.
    const rotated = await forger.request('/webhooks/secret/rotate', { method: 'POST', body: JSON.stringify({ previousValidForSeconds: 0 }) });
    expect(rotated.status).toBe(200);
    expect((await secretOf(target)).current.secret).toBe(targetSecret);
    const bad = await forger.request('/webhooks/secret/rotate', { method: 'POST', body: JSON.stringify({ previousValidForSeconds: -1, tenant: 'wh-target' }) });
    expect(bad.status).toBe(400);
    // Read-only tokens may not read the signing secret.
    const reader = new ConveyorClient(platform.gatewayUrl, await tokens.valid({ sub: 'r', tenant: 'wh-target', scope: 'jobs:read' }));
    expect((await reader.request('/webhooks/secret')).status).toBe(403);
    for (const secret of [targetSecret, forgerSecret]) expect(apiLog()).not.toContain(secret);
  }, 120_000);
});

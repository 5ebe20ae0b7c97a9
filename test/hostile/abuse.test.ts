import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetQueueUrlCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { createSqsClient, Kafka } from '@conveyor/platform';
import { topology } from '@conveyor/jobs';
import { awsOptions, infra } from '../support/infra.js';
import { startPlatform, type Platform } from '../support/platform.js';
import { startService, type RunningService } from '../support/service-process.js';
import { ConveyorClient } from '../e2e/client.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+(?:\\.\\d+)?)`, 'gm'))].reduce((sum, m) => sum + Number(m[1]), 0);
}

/**
 * Hostile clients and hostile messages: each gets a clear 4xx or is set aside (DLQ, rejected,
 * counted), and every service keeps serving the next honest request.
 */
describe('abuse: oversized, malformed, slow and poisoned input', () => {
  let platform: Platform;
  let client: ConveyorClient;
  const alive = () => {
    const { gateway, api, bridge, scheduler, workers } = platform.services;
    for (const s of [gateway, api, bridge, scheduler, ...workers]) expect(s.process.exitCode, `${s.name} exited:\n${s.output().slice(-2000)}`).toBeNull();
  };
  const honestJobCompletes = async () => {
    const { res, body } = await client.submit({ type: 'noop', payload: {} });
    expect(res.status).toBe(202);
    expect(await client.waitForFinish(String(body.jobId), 30_000)).toMatchObject({ status: 'success' });
  };

  beforeAll(async () => {
    platform = await startPlatform({ pools: ['default'] });
    client = new ConveyorClient(platform.gatewayUrl, await platform.login());
  }, 240_000);
  afterAll(async () => platform?.stop());

  it('refuses oversized bodies and headers and deeply nested JSON with a 4xx, never a 5xx', async () => {
    const big = await client.request('/jobs', { method: 'POST', body: `{"type":"noop","payload":{"x":"${'y'.repeat(5 * 1024 * 1024)}"}}` });
    expect(big.status).toBe(413);
    const header = await client.request('/jobs', { headers: { 'x-padding': 'h'.repeat(64 * 1024) } });
    expect(header.status).toBe(431);
    const many = await client.request('/jobs', { headers: Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`x-h${i}`, 'v'.repeat(100)])) });
    expect(many.status).toBeGreaterThanOrEqual(400);
    expect(many.status).toBeLessThan(500);
    for (const depth of [1_000, 100_000]) {
      const nested = `{"type":"noop","payload":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`;
      const res = await client.request('/jobs', { method: 'POST', body: nested });
      expect(res.status, `depth ${depth}`).toBeGreaterThanOrEqual(400);
      expect(res.status, `depth ${depth}`).toBeLessThan(500);
      const arrays = await client.request('/jobs', { method: 'POST', body: `{"type":"noop","payload":{"a":${'['.repeat(depth)}${']'.repeat(depth)}}}` });
      expect(arrays.status, `array depth ${depth}`).toBeLessThan(500);
    }
    const broken = await client.request('/jobs', { method: 'POST', body: '{"type":"noop","payload":' });
    expect(broken.status).toBe(400);
    expect(await broken.json()).toHaveProperty('requestId');
    const wrongType = await client.request('/jobs', { method: 'POST', body: 'type=noop', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(wrongType.status).toBeGreaterThanOrEqual(400);
    expect(wrongType.status).toBeLessThan(500);
    alive();
    await honestJobCompletes();
  }, 60_000);

  it('answers 400, not 500, to strings Postgres cannot store (NUL) in a payload (schemathesis finding)', async () => {
    for (const payload of ['{"k":"a\\u0000b"}', '{"a\\u0000":1}']) {
      const res = await client.request('/jobs', { method: 'POST', body: `{"type":"noop","payload":${payload}}` });
      expect(res.status, payload).toBe(400);
    }
    const granter = new ConveyorClient(platform.gatewayUrl, await platform.login('admin@example.com', 'admin-password'));
    const points = await granter.request('/points/reservations', {
      method: 'POST',
      body: JSON.stringify({ userId: 'u\u0000x', amount: 1, executeAt: new Date().toISOString() }),
    });
    expect(points.status).toBe(400);
  });

  it('times out a slowloris client trickling its headers while serving others', async () => {
    const url = new URL(platform.gatewayUrl);
    const sockets = Array.from({ length: 20 }, () => net.connect({ host: url.hostname, port: Number(url.port) }));
    const closed = sockets.map((s) => new Promise<number>((resolve) => s.once('close', () => resolve(Date.now()))));
    for (const s of sockets) {
      s.on('error', () => {});
      s.write('GET /jobs HTTP/1.1\r\nHost: x\r\n');
    }
    const started = Date.now();
    const trickle = setInterval(() => sockets.forEach((s) => s.writable && s.write('X')), 1000);
    try {
      await sleep(2000);
      // Others are served meanwhile, and promptly.
      for (let i = 0; i < 5; i++) {
        const t = Date.now();
        expect((await client.request('/jobs?limit=1')).status).toBe(200);
        expect(Date.now() - t).toBeLessThan(5_000);
      }
      const all = await Promise.race([Promise.all(closed), sleep(30_000).then(() => undefined)]);
      expect(all, 'the server must close connections that never finish their headers').toBeDefined();
      // 15 s request timeout, swept every second.
      expect(Math.max(...all!) - started).toBeLessThan(20_000);
    } finally {
      clearInterval(trickle);
      sockets.forEach((s) => s.destroy());
    }
    alive();
  }, 60_000);

  it('caps an SSE connection flood with 429/503 and keeps answering', async () => {
    const { body } = await client.submit({ type: 'sleep', payload: { ms: 60_000 }, timeoutSeconds: 120 });
    const controllers = Array.from({ length: 40 }, () => new AbortController());
    try {
      const replies = await Promise.all(
        controllers.map((c) =>
          client.request(`/jobs/${body.jobId}/events`, { headers: { accept: 'text/event-stream' }, signal: c.signal }).then((r) => r.status, () => 0),
        ),
      );
      const counts = replies.reduce<Record<number, number>>((acc, s) => ({ ...acc, [s]: (acc[s] ?? 0) + 1 }), {});
      expect(counts[200] ?? 0, JSON.stringify(counts)).toBeGreaterThan(0);
      expect((counts[429] ?? 0) + (counts[503] ?? 0), JSON.stringify(counts)).toBeGreaterThan(0);
      expect(Object.keys(counts).every((s) => ['200', '429', '503'].includes(s)), JSON.stringify(counts)).toBe(true);
      expect((await client.request('/jobs?limit=1')).status).toBe(200);
    } finally {
      controllers.forEach((c) => c.abort());
      await client.request(`/jobs/${body.jobId}`, { method: 'DELETE' });
    }
    alive();
  }, 60_000);

  it('sets aside poison Kafka records (bridge and events consumer) and keeps consuming', async () => {
    const names = topology(platform.namespace);
    const kafka = new Kafka({ clientId: 'hostile', brokers: infra.kafkaBrokers, logLevel: 0 });
    const producer = kafka.producer();
    await producer.connect();
    const rejectedBefore = await metric(platform.services.bridge.url, 'conveyor_bridge_records_rejected_total');
    const malformedBefore = await metric(platform.services.api.opsUrl, 'conveyor_job_events_malformed_total');
    const poison = [
      { key: 'bad-json', value: '{"v":1,"jobId":' },
      { key: 'unknown-type', value: JSON.stringify({ v: 1, jobId: '0b4c4d2e-8d1c-4a8e-9f00-00000000000a', type: 'no.such', tenant: 'x', payload: {}, createdAt: new Date().toISOString(), maxAttempts: 1, timeoutSeconds: 1 }) },
      { key: 'missing-fields', value: JSON.stringify({ v: 1 }) },
      { key: 'null', value: null },
      { key: 'binary', value: Buffer.from([0xff, 0xfe, 0x00, 0x01]) },
    ];
    try {
      await producer.send({ topic: names.topics.requested, messages: poison });
      await producer.send({ topic: names.topics.events, messages: poison });
    } finally {
      await producer.disconnect();
    }
    await honestJobCompletes();
    await expect.poll(() => metric(platform.services.bridge.url, 'conveyor_bridge_records_rejected_total'), { timeout: 20_000 }).toBeGreaterThanOrEqual(rejectedBefore + 3);
    await expect.poll(() => metric(platform.services.api.opsUrl, 'conveyor_job_events_malformed_total'), { timeout: 20_000 }).toBeGreaterThanOrEqual(malformedBefore + 3);
    // The events consumer still writes notices for jobs after the poison.
    await expect
      .poll(async () => ((await (await client.request('/notifications/unread')).json()) as { items: unknown[] }).items.length, { timeout: 20_000 })
      .toBeGreaterThan(0);
    alive();
  }, 60_000);

  it('dead-letters poison SQS messages (bad JSON, unknown type, missing fields, unknown job) and keeps working', async () => {
    const sqs = createSqsClient(awsOptions);
    const names = topology(platform.namespace).queues.find((q) => q.pool.name === 'default')!;
    try {
      const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: names.queue }));
      const { QueueUrl: dlqUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: names.deadLetterQueue }));
      const envelope = { v: 1, type: 'noop', tenant: 'demo', payload: {}, createdAt: new Date().toISOString(), maxAttempts: 1, timeoutSeconds: 5 };
      const bodies = [
        'hostile-bad-json {',
        JSON.stringify({ ...envelope, jobId: '0b4c4d2e-8d1c-4a8e-9f00-0000000000b1', type: 'report.generate', marker: 'hostile-wrong-pool' }),
        JSON.stringify({ marker: 'hostile-missing-fields', v: 1 }),
        JSON.stringify({ ...envelope, jobId: '0b4c4d2e-8d1c-4a8e-9f00-0000000000b2', marker: 'hostile-unknown-job' }),
        JSON.stringify({ ...envelope, jobId: '0b4c4d2e-8d1c-4a8e-9f00-0000000000b3', type: 'sleep', payload: { ms: 'x' }, marker: 'hostile-bad-payload' }),
      ];
      for (const MessageBody of bodies) {
        await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody, MessageAttributes: { type: { DataType: 'String', StringValue: 'noop' } } }));
      }
      await honestJobCompletes();
      const seen = new Set<string>();
      const deadline = Date.now() + 45_000;
      while (seen.size < bodies.length && Date.now() < deadline) {
        const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 2, VisibilityTimeout: 300 }));
        for (const m of Messages) if (bodies.includes(m.Body ?? '')) seen.add(m.Body!);
      }
      expect([...seen].sort()).toEqual([...bodies].sort());
      expect(await metric(platform.services.workers[0]!.url, 'conveyor_worker_poison_messages_total')).toBeGreaterThanOrEqual(bodies.length);
      await honestJobCompletes();
    } finally {
      sqs.destroy();
    }
    alive();
  }, 90_000);

  it('reports invalid cron, time zones and YAML in a schedules folder and stays up', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'hostile-schedules-'));
    const doc = (name: string, spec: string) =>
      `apiVersion: conveyor.dev/v1alpha1\nkind: JobSchedule\nmetadata:\n  name: ${name}\n  labels:\n    conveyor.dev/tenant: demo\nspec:\n${spec}`;
    await writeFile(path.join(dir, 'bad-cron.yaml'), doc('bad-cron', '  schedule: "61 25 * * *"\n  jobType: noop\n  payload: {}\n'));
    await writeFile(path.join(dir, 'bad-tz.yaml'), doc('bad-tz', '  schedule: "* * * * *"\n  timeZone: Mars/Olympus_Mons\n  jobType: noop\n  payload: {}\n'));
    await writeFile(path.join(dir, 'bad-type.yaml'), doc('bad-type', '  schedule: "* * * * *"\n  jobType: no.such.type\n  payload: {}\n'));
    await writeFile(path.join(dir, 'broken.yaml'), 'kind: JobSchedule\nmetadata: [unclosed\n  : : :\n');
    await writeFile(path.join(dir, 'not-a-schedule.yml'), 'kind: ConfigMap\nmetadata:\n  name: x\n');
    let scheduler: RunningService | undefined;
    try {
      // Only an elected leader reads schedules: this one elects itself under a lock name of its own,
      // apart from the platform's scheduler.
      scheduler = await startService('scheduler', { ...platform.env, SCHEDULES_SOURCE: 'folder', SCHEDULES_DIR: dir, LEADER_ELECTION_LEASE_NAME: 'hostile-schedules' });
      await expect.poll(() => metric(scheduler!.url, 'conveyor_scheduler_schedules_invalid'), { timeout: 15_000 }).toBe(3);
      expect(scheduler.output()).toMatch(/ignoring schedule document/);
      expect(scheduler.output()).toMatch(/invalid JobSchedule spec/);
      // A broken file written while it runs is reported too; the process stays up and ready.
      await writeFile(path.join(dir, 'later.yaml'), doc('later', '  schedule: "not cron"\n  jobType: noop\n  payload: {}\n'));
      await expect.poll(() => metric(scheduler!.url, 'conveyor_scheduler_schedules_invalid'), { timeout: 15_000 }).toBe(4);
      expect(scheduler.process.exitCode).toBeNull();
      expect((await fetch(`${scheduler.url}/readyz`)).status).toBe(200);
      await honestJobCompletes();
    } finally {
      await scheduler?.stop('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

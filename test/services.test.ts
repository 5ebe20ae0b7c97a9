import { execFileSync } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateJobsSchema, provision, topology } from '@conveyor/jobs';
import { createKafka, createLogger, createPool, createS3Client, createSnsClient, createSqsClient } from '@conveyor/platform';
import { awsOptions, infra, uniqueName } from './support/infra.js';
import { spawnService, startService, waitForHttp, type RunningService } from './support/service-process.js';
import { waitUntil } from './support/wait.js';

const DEAD = '127.0.0.1:1';
const aws = { AWS_ENDPOINT_URL: infra.awsEndpoint, AWS_REGION: infra.awsRegion, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' };
const kafka = { KAFKA_BROKERS: infra.kafkaBrokers.join(',') };
const db = { DATABASE_URL: infra.postgresUrl };

// The bridge is ready only once its namespace's SNS topic exists: provision one for this file.
const bridgeNamespace = uniqueName('svc').replaceAll('_', '-');
beforeAll(async () => {
  const logger = createLogger({ service: 'services-test', level: 'warn' });
  const [sns, sqs, s3] = [createSnsClient(awsOptions), createSqsClient(awsOptions), createS3Client(awsOptions)];
  const kafkaClient = createKafka({ brokers: infra.kafkaBrokers, clientId: 'services-test', logger });
  await provision({ kafka: kafkaClient, sns, sqs, s3, topology: topology(bridgeNamespace), bucket: bridgeNamespace, partitions: 1 });
  // The api is ready only once it has read the registered job types: the database must be migrated, as make start does.
  const pool = createPool({ connectionString: infra.postgresUrl, max: 1 });
  await migrateJobsSchema(pool);
  await pool.end();
  for (const client of [sns, sqs, s3]) client.destroy();
});

/** Each service with its real dependencies, and one variant per dependency taken away. */
const cases: Array<{
  name: string;
  defaultPort: number;
  env: Record<string, string>;
  required: string;
  down: Record<string, Record<string, string>>;
}> = [
  {
    name: 'api',
    defaultPort: 8081,
    env: { ...db, ...kafka },
    required: 'DATABASE_URL',
    down: { postgres: { DATABASE_URL: `postgres://conveyor:conveyor@${DEAD}/conveyor` }, kafka: { KAFKA_BROKERS: DEAD } },
  },
  {
    name: 'bridge',
    defaultPort: 8082,
    env: { ...kafka, ...aws, CONVEYOR_NAMESPACE: bridgeNamespace },
    required: 'KAFKA_BROKERS',
    down: { kafka: { KAFKA_BROKERS: DEAD }, sns: { AWS_ENDPOINT_URL: `http://${DEAD}` } },
  },
  {
    name: 'worker',
    defaultPort: 8083,
    env: { ...db, ...aws, CONVEYOR_NAMESPACE: bridgeNamespace },
    required: 'DATABASE_URL',
    down: { postgres: { DATABASE_URL: `postgres://conveyor:conveyor@${DEAD}/conveyor` }, sqs: { AWS_ENDPOINT_URL: `http://${DEAD}` } },
  },
  {
    name: 'scheduler',
    defaultPort: 8084,
    env: { ...db, ...kafka },
    required: 'KAFKA_BROKERS',
    down: { postgres: { DATABASE_URL: `postgres://conveyor:conveyor@${DEAD}/conveyor` }, kafka: { KAFKA_BROKERS: DEAD } },
  },
];

const running: RunningService[] = [];
afterAll(async () => {
  await Promise.all(running.map((s) => s.stop('SIGKILL')));
});

/**
 * Each api gets a namespace of its own: apis left running by one test would otherwise share the
 * jobs.events consumer group with the next, whose join (and so its drain) waits for their rebalance.
 */
async function start(name: string, env: Record<string, string>) {
  const own: Record<string, string> = name === 'api' && !env.CONVEYOR_NAMESPACE ? { CONVEYOR_NAMESPACE: uniqueName('svc-api').replaceAll('_', '-') } : {};
  const service = await startService(name, { ...own, ...env });
  running.push(service);
  return service;
}

function checkMetrics(text: string): void {
  // promtool is Prometheus' own parser and linter: the exposition must satisfy both.
  execFileSync('promtool', ['check', 'metrics'], { input: text });
}

describe.each(cases)('$name service', ({ name, env, required, down }) => {
  it('is ready with its dependencies up, serves valid metrics, and drains on SIGTERM', async () => {
    const service = await start(name, env);
    const ready = await waitForHttp(`${service.opsUrl}/readyz`, 200);
    const report = (await ready.json()) as { ready: boolean; checks: Record<string, { ok: boolean }> };
    expect(report.ready).toBe(true);
    expect(Object.keys(report.checks).sort()).toEqual(Object.keys(down).sort());

    const metrics = await fetch(`${service.opsUrl}/metrics`);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await metrics.text();
    expect(text).toContain(`service="${name}"`);
    expect(text).toContain('conveyor_process_cpu_seconds_total');
    checkMetrics(text);

    const started = Date.now();
    await service.stopCleanly();
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(service.output()).toMatch(/"msg":"stopped cleanly"/);
  });

  it.each(Object.entries(down))('answers 503 on /readyz when %s is down', async (dependency, broken) => {
    const service = await start(name, { ...env, ...broken });
    const res = await waitForHttp(`${service.opsUrl}/readyz`, 503);
    const report = (await res.json()) as { ready: boolean; checks: Record<string, { ok: boolean; error?: string }> };
    expect(report.ready).toBe(false);
    expect(report.checks[dependency]?.ok).toBe(false);
    const healthy = Object.entries(report.checks).filter(([n]) => n !== dependency);
    expect(healthy.every(([, c]) => c.ok)).toBe(true);
    // Liveness is about the process, not its dependencies: it must stay 200.
    expect((await fetch(`${service.opsUrl}/healthz`)).status).toBe(200);
  });

  it(`refuses to start without ${required}, naming it`, async () => {
    const rest = Object.fromEntries(Object.entries(env).filter(([k]) => k !== required));
    const service = await spawnService(name, rest);
    running.push(service);
    expect(await service.exited).toBe(78);
    expect(service.output()).toContain(`${required}:`);
  });
});

describe('gateway service', () => {
  it('is ready while the api answers and 503 when it does not', async () => {
    const api = await start('api', { ...db, ...kafka });
    const gateway = await start('gateway', { API_URL: api.url });
    await waitForHttp(`${gateway.opsUrl}/readyz`, 200);
    checkMetrics(await (await fetch(`${gateway.opsUrl}/metrics`)).text());
    await api.stopCleanly();
    const res = await waitForHttp(`${gateway.opsUrl}/readyz`, 503);
    expect(((await res.json()) as { checks: { api: { ok: boolean } } }).checks.api.ok).toBe(false);
    await gateway.stopCleanly();
  });

  it('refuses a malformed API_URL, naming it', async () => {
    const gateway = await spawnService('gateway', { API_URL: 'not a url' });
    running.push(gateway);
    expect(await gateway.exited).toBe(78);
    expect(gateway.output()).toContain('API_URL:');
  });

  it('drains with an idle keep-alive client attached', async () => {
    const api = await start('api', { ...db, ...kafka });
    const agent = new http.Agent({ keepAlive: true });
    await new Promise((resolve) => http.get(`${api.url}/openapi.json`, { agent }, (res) => res.resume().on('end', resolve)));
    const started = Date.now();
    await api.stopCleanly();
    expect(Date.now() - started).toBeLessThan(3_000);
    agent.destroy();
  });

  it('exits at once on a second signal while a request holds the drain', async () => {
    const api = await start('api', { ...db, ...kafka, SHUTDOWN_GRACE_MS: '30000' });
    // A request whose headers never finish keeps the server from closing.
    const socket = net.connect(api.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    api.process.kill('SIGTERM');
    await waitUntil(() => api.output().includes('"msg":"draining"'), 5_000, 'the api to log that it drains');
    const started = Date.now();
    api.process.kill('SIGTERM');
    expect(await api.exited).toBe(130);
    expect(Date.now() - started).toBeLessThan(2_000);
    socket.destroy();
  });
});


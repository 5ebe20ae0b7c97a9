import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createTestDatabase } from '../../../test/support/database.js';
import { createSqsClient, readQueueDepth } from '@conveyor/platform';
import { poolQueueNames, queueUrl, workQueues } from '@conveyor/jobs';
import { awsOptions, uniqueName } from '../../../test/support/infra.js';
import { startService, type RunningService } from '../../../test/support/service-process.js';
import { createTokenKit } from '../../../test/hostile/tokens.js';
import { platformEnv, prepareNamespace } from '../../../test/support/platform.js';
import { pidsMatching, postgresServer, type Proc } from '../cpu.js';
import { jobBody, type JobTiming, type System } from './system.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export interface ConveyorOptions {
  concurrency: number;
  /** Extra env for every service, e.g. NODE_OPTIONS=--cpu-prof for profiling. */
  serviceEnv?: Record<string, string>;
}

/** The real gateway, api, bridge, scheduler and one default-pool worker, in their own database and namespace. */
export async function startConveyor(options: ConveyorOptions): Promise<System> {
  const namespace = uniqueName('bench').toLowerCase().replace(/_/g, '-');
  const database = await createTestDatabase();
  const env: Record<string, string> = {
    ...platformEnv(namespace, database.url),
    // The peers' express handlers log nothing either; request logs would charge Conveyor for pino.
    LOG_LEVEL: 'warn',
    WEBHOOK_SECRET: 'bench-webhook-secret-0123456789',
    // One benchmark client is far above a user's fair share; the limiter has its own tests.
    RATE_LIMIT_BURST: '10000000',
    RATE_LIMIT_SUSTAINED_PER_MINUTE: '100000000',
    JWT_TTL_SECONDS: '7200',
    ...options.serviceEnv,
  };
  await prepareNamespace(env);
  // Tokens of other tenants (the noisy-neighbour scenario), signed with the gateway's dev key as an
  // identity provider would sign them.
  const tokens = await createTokenKit();

  const services: RunningService[] = [];
  const start = async (name: string, extra: Record<string, string> = {}) => {
    const service = await startService(name, { ...env, ...extra });
    services.push(service);
    return service;
  };
  const db = new pg.Pool({ connectionString: database.url, max: 2 });
  const sqs = createSqsClient(awsOptions);
  const stop = async () => {
    // SIGTERM so a --cpu-prof run writes its profiles; the services drain in well under the grace period.
    await Promise.all(services.map((s) => Promise.race([s.stop('SIGTERM'), new Promise((r) => setTimeout(r, 15_000))])));
    await Promise.all(services.map((s) => s.stop('SIGKILL')));
    await db.end();
    sqs.destroy();
    await database.drop();
  };
  try {
    const api = await start('api');
    const [gateway] = await Promise.all([
      start('gateway', { API_URL: api.url, JWT_DEV_SIGNING_KEY: tokens.signingKeyPem }),
      start('bridge'),
      start('scheduler'),
      start('worker', { WORKER_POOL: 'default', WORKER_CONCURRENCY: String(options.concurrency) }),
    ]);
    const login = await fetch(`${gateway!.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'demo@example.com', password: 'demo-password' }),
    });
    if (login.status !== 200) throw new Error(`login failed: ${login.status} ${await login.text()}`);
    const { accessToken } = (await login.json()) as { accessToken: string };

    return {
      name: 'conveyor',
      database: database.name,
      metricsUrl: (name) => services.find((s) => s.name === name)?.opsUrl.concat('/metrics'),
      description: 'gateway -> api (Postgres outbox) -> Kafka -> bridge -> SNS/SQS -> worker',
      target: (runTag, runAt) => ({
        url: `${gateway!.url}/jobs`,
        headers: { authorization: `Bearer ${accessToken}` },
        body: (seq) => jobBody(runTag, seq, runAt?.(seq)),
      }),
      batchTarget: (runTag, size) => ({
        url: `${gateway!.url}/jobs/batch`,
        headers: { authorization: `Bearer ${accessToken}` },
        body: (seq) => `{"jobs":[${Array.from({ length: size }, (_, i) => jobBody(runTag, seq * size + i)).join(',')}]}`,
      }),
      priorityTargets: (runTag, priority, size) => ({
        single: { url: `${gateway!.url}/jobs`, headers: { authorization: `Bearer ${accessToken}` }, body: (seq) => jobBody(runTag, seq, undefined, priority) },
        batch: {
          url: `${gateway!.url}/jobs/batch`,
          headers: { authorization: `Bearer ${accessToken}` },
          body: (seq) => `{"jobs":[${Array.from({ length: size }, (_, i) => jobBody(runTag, seq * size + i, undefined, priority)).join(',')}]}`,
        },
      }),
      tenantTargets: async (tenant, runTag, size) => {
        const headers = { authorization: `Bearer ${await tokens.valid({ sub: `${tenant}-user`, tenant, scope: 'jobs:read jobs:write' }, '2h')}` };
        return {
          single: { url: `${gateway!.url}/jobs`, headers, body: (seq) => jobBody(runTag, seq) },
          batch: {
            url: `${gateway!.url}/jobs/batch`,
            headers,
            body: (seq) => `{"jobs":[${Array.from({ length: size }, (_, i) => jobBody(runTag, seq * size + i)).join(',')}]}`,
          },
        };
      },
      queued: async () => {
        const depths = await Promise.all(
          workQueues(poolQueueNames(namespace, 'default')).map(async ({ queue }) => {
            const url = await queueUrl(sqs, queue);
            const depth = url ? await readQueueDepth(sqs, url) : { visible: 0, inFlight: 0 };
            return depth.visible + depth.inFlight;
          }),
        );
        return depths.reduce((a, b) => a + b, 0);
      },
      completedBy: async (tenant) =>
        (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM jobs WHERE tenant = $1 AND status = 'success'", [tenant])).rows[0]!.n,
      completed: async () => (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM jobs WHERE status = 'success'")).rows[0]!.n,
      timings: async (runTag) => {
        const { rows } = await db.query<{ c: number; s: number; d: number | null }>(
          `SELECT extract(epoch FROM created_at) * 1000 AS c, extract(epoch FROM started_at) * 1000 AS s,
                  extract(epoch FROM run_at) * 1000 AS d
             FROM jobs WHERE status = 'success' AND payload->>'run' = $1`,
          [runTag],
        );
        return rows.map((r): JobTiming => ({ createdMs: Number(r.c), startedMs: Number(r.s), dueMs: r.d === null ? null : Number(r.d) }));
      },
      // published_at is the start of the outbox relay's transaction that claimed the row and sent it to Kafka.
      hops: async (runTag) => {
        const { rows } = await db.query<{ relay: number; delivery: number }>(
          `SELECT extract(epoch FROM published_at - greatest(created_at, run_at)) * 1000 AS relay,
                  extract(epoch FROM started_at - published_at) * 1000 AS delivery
             FROM jobs WHERE status = 'success' AND payload->>'run' = $1 AND published_at IS NOT NULL`,
          [runTag],
        );
        return {
          'created or due -> claimed by the outbox relay': rows.map((r) => Number(r.relay)),
          'relay -> Kafka -> bridge -> SNS/SQS -> worker start': rows.map((r) => Number(r.delivery)),
        };
      },
      // The api stays: accepting is its work, and its outbox relay hands each job to Kafka.
      consumers: async () => services.filter((s) => s.name !== 'api' && s.name !== 'gateway').map((s) => s.process.pid!),
      procs: async () => {
        // Read when asked, not at start: a scenario that measures no CPU (priority.ts) runs from any checkout.
        const kafkaPid = Number(readFileSync(path.join(ROOT, '.run/kafka/kafka.pid'), 'utf8').trim());
        return [
          ...services.map((s): Proc => ({ name: s.name, pid: s.process.pid!, role: 'service' })),
          postgresServer(ROOT),
          { name: 'kafka', pid: kafkaPid, role: 'infra' },
          ...pidsMatching('fauxqs').map((pid): Proc => ({ name: 'sns-sqs-emulator', pid, role: 'infra' })),
        ];
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

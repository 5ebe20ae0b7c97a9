import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createTestDatabase, type TestDatabase } from './database.js';
import { awsOptions, infra, uniqueName } from './infra.js';
import { startService, type RunningService } from './service-process.js';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const INTERNAL_TOKEN = 'e2e-internal-token';

export interface Platform {
  namespace: string;
  database: TestDatabase;
  bucket: string;
  services: Record<'gateway' | 'api' | 'bridge' | 'scheduler', RunningService> & { workers: RunningService[] };
  env: Record<string, string>;
  gatewayUrl: string;
  /** Starts another worker for a pool (the default pool unless given). */
  startWorker: (pool?: string, extra?: Record<string, string>) => Promise<RunningService>;
  login: (email?: string, password?: string) => Promise<string>;
  stop: () => Promise<void>;
}

/**
 * The whole platform as real processes on real servers, isolated by its own database, namespace
 * (topics, queues, SNS topic) and bucket, so test files can run side by side.
 */
export async function startPlatform(
  options: {
    workerEnv?: Record<string, string>;
    gatewayEnv?: Record<string, string>;
    pools?: string[];
    /** Extra environment for every service (OTEL_* in the observability tests). */
    env?: Record<string, string>;
  } = {},
): Promise<Platform> {
  const namespace = uniqueName('e2e').toLowerCase().replace(/_/g, '-');
  const bucket = `${namespace}-results`;
  const database = await createTestDatabase();
  const env: Record<string, string> = {
    ...platformEnv(namespace, database.url),
    LOG_LEVEL: 'info',
    WEBHOOK_SECRET: 'e2e-webhook-secret-0123456789',
    CORS_ORIGINS: 'http://localhost:3000',
    // Tests submit in bursts far above a client's fair share; the limiter has its own tests.
    RATE_LIMIT_BURST: '100000',
    RATE_LIMIT_SUSTAINED_PER_MINUTE: '10000000',
    ...options.env,
  };
  await prepareNamespace(env);

  const started: RunningService[] = [];
  const start = async (name: string, extra: Record<string, string> = {}) => {
    const service = await startService(name, { ...env, ...extra });
    started.push(service);
    return service;
  };
  try {
    const api = await start('api');
    const [bridge, scheduler, gateway] = await Promise.all([
      start('bridge'),
      start('scheduler'),
      start('gateway', { API_URL: api.url, ...options.gatewayEnv }),
    ]);
    const workers = await Promise.all(
      (options.pools ?? ['default', 'reports']).map((pool) => start('worker', { WORKER_POOL: pool, ...options.workerEnv })),
    );
    const platform: Platform = {
      namespace,
      database,
      bucket,
      env,
      services: { gateway, api, bridge, scheduler, workers },
      gatewayUrl: gateway.url,
      startWorker: async (pool = 'default', extra = {}) => {
        const worker = await start('worker', { WORKER_POOL: pool, ...options.workerEnv, ...extra });
        workers.push(worker);
        return worker;
      },
      login: async (email = 'demo@example.com', password = 'demo-password') => {
        const res = await fetch(`${gateway.url}/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email, password }),
        });
        if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
        return ((await res.json()) as { accessToken: string }).accessToken;
      },
      stop: async () => {
        await Promise.all(started.map((s) => s.stop('SIGKILL')));
        await database.drop();
      },
    };
    return platform;
  } catch (error) {
    await Promise.all(started.map((s) => s.stop('SIGKILL')));
    await database.drop();
    throw error;
  }
}

/** What every service of one isolated platform shares: the servers, its namespace, bucket and tokens. */
export function platformEnv(namespace: string, databaseUrl: string): Record<string, string> {
  return {
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    KAFKA_BROKERS: infra.kafkaBrokers.join(','),
    AWS_REGION: awsOptions.region,
    AWS_ENDPOINT_URL: awsOptions.endpoint,
    AWS_ACCESS_KEY_ID: awsOptions.accessKeyId,
    AWS_SECRET_ACCESS_KEY: awsOptions.secretAccessKey,
    CONVEYOR_NAMESPACE: namespace,
    S3_BUCKET: `${namespace}-results`,
    INTERNAL_TOKEN,
    API_INTERNAL_TOKEN: INTERNAL_TOKEN,
    SCHEDULES_SOURCE: 'none',
    KAFKA_PARTITIONS: '3',
  };
}

/** Migrates the database and provisions topics, queues and bucket with the CLIs `make dev` runs. */
export async function prepareNamespace(env: Record<string, string>): Promise<void> {
  const node = (script: string) =>
    run(process.execPath, [path.join(ROOT, script)], { env: { ...process.env, ...env } }).catch((error: { stdout?: string; message: string }) => {
      // The CLIs log their failure as JSON on stdout, which execFile's error message leaves out.
      throw new Error(`${script} failed: ${error.message}\n${error.stdout?.slice(-4000) ?? ''}`, { cause: error });
    });
  await node('packages/jobs/dist/migrate-cli.js');
  await node('packages/jobs/dist/provision-cli.js');
}

import { generateKeyPairSync } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { uniqueName } from '../support/infra.js';
import { freePort, spawnService, waitForHttp, type RunningService } from '../support/service-process.js';
import { platformEnv, prepareNamespace } from '../support/platform.js';
import { startDelayProxy, type DelayProxy } from './delay-proxy.js';

export type ServiceName = 'gateway' | 'api' | 'bridge' | 'scheduler' | 'worker-1' | 'worker-2' | 'reports';

/** One service slot: the env it was started with, so a kill -9 can be followed by the same start. */
export interface Slot {
  name: ServiceName;
  program: string;
  env: Record<string, string>;
  current: RunningService | undefined;
  restarts: number;
}

export interface ChaosPlatform {
  namespace: string;
  database: TestDatabase;
  gatewayUrl: string;
  env: Record<string, string>;
  slots: Map<ServiceName, Slot>;
  /** Every service reaches Postgres through this proxy, so its latency can be raised and healed. */
  pgProxy: DelayProxy;
  kill: (name: ServiceName) => Promise<void>;
  restart: (name: ServiceName) => Promise<void>;
  /** The scheduler's /metrics text (empty when it is down). */
  schedulerMetrics: () => Promise<string>;
  stop: () => Promise<void>;
}

/**
 * The five services as in test/support/platform.ts, but every slot keeps its env and a fixed port
 * so it can be killed and started again, the reconciler runs every second, leases are short (a job
 * whose worker died is re-driven in seconds, not minutes) and Postgres sits behind a delay proxy.
 */
export async function startChaosPlatform(): Promise<ChaosPlatform> {
  const namespace = uniqueName('chaos').toLowerCase().replace(/_/g, '-');
  const database = await createTestDatabase();
  const pgUrl = new URL(database.url);
  const pgProxy = await startDelayProxy({ host: pgUrl.hostname, port: Number(pgUrl.port) });
  const env: Record<string, string> = {
    ...platformEnv(namespace, database.url),
    LOG_LEVEL: 'warn',
    RATE_LIMIT_BURST: '100000',
    RATE_LIMIT_SUSTAINED_PER_MINUTE: '10000000',
  };
  await prepareNamespace(env);

  const viaProxy = { DATABASE_URL: pgProxy.url(database.url) };
  const worker = {
    ...viaProxy,
    WORKER_POOL: 'default',
    WORKER_CONCURRENCY: '8',
    HEARTBEAT_INTERVAL_MS: '1000',
    LEASE_SECONDS: '5',
    RETRY_BACKOFF_BASE_SECONDS: '1',
    RETRY_BACKOFF_MAX_SECONDS: '2',
    RECEIVE_WAIT_SECONDS: '2',
  };
  const apiPort = await freePort();
  const plan: Array<[ServiceName, string, Record<string, string>]> = [
    ['api', 'api', { ...viaProxy, PORT: String(apiPort), OUTBOX_POLL_INTERVAL_MS: '500' }],
    ['bridge', 'bridge', { BRIDGE_SESSION_TIMEOUT_MS: '6000', BREAKER_RESET_MS: '1000' }],
    [
      'scheduler',
      'scheduler',
      {
        ...viaProxy,
        RECONCILE_INTERVAL_MS: '1000',
        QUEUED_REDRIVE_AFTER_SECONDS: '8',
        RECONCILE_PROCESSING_LEASE_SECONDS: '5',
        DISPATCH_SAFETY_INTERVAL_MS: '500',
        OUTBOX_POLL_INTERVAL_MS: '500',
      },
    ],
    // One signing key for every gateway incarnation, as the chart gives its replicas: tokens issued
    // before a kill -9 must still verify after the restart.
    ['gateway', 'gateway', { API_URL: `http://127.0.0.1:${apiPort}`, JWT_DEV_SIGNING_KEY: gatewaySigningKey() }],
    ['worker-1', 'worker', worker],
    ['worker-2', 'worker', worker],
    ['reports', 'worker', { ...worker, WORKER_POOL: 'reports' }],
  ];
  const slots = new Map<ServiceName, Slot>();
  for (const [name, program, extra] of plan) {
    slots.set(name, { name, program, env: { ...env, ...extra, PORT: extra.PORT ?? String(await freePort()) }, current: undefined, restarts: 0 });
  }
  const boot = async (slot: Slot) => {
    const service = await spawnService(slot.program, slot.env);
    try {
      await Promise.race([
        waitForHttp(`${service.opsUrl}/healthz`, 200, 90_000),
        service.exited.then((code) => {
          throw new Error(`exited with ${code}`);
        }),
      ]);
    } catch (error) {
      await service.stop('SIGKILL');
      throw new Error(`${slot.name} did not start (${String(error)}):\n${service.output().slice(-4000)}`, { cause: error });
    }
    slot.current = service;
  };
  const kill = async (name: ServiceName) => {
    const slot = slots.get(name)!;
    await slot.current?.stop('SIGKILL');
    slot.current = undefined;
  };
  const stopAll = async () => Promise.all([...slots.keys()].map(kill));
  try {
    await boot(slots.get('api')!);
    await Promise.all(['bridge', 'scheduler', 'gateway', 'worker-1', 'worker-2', 'reports'].map((n) => boot(slots.get(n as ServiceName)!)));
  } catch (error) {
    await stopAll();
    await pgProxy.stop();
    await database.drop();
    throw error;
  }
  return {
    namespace,
    database,
    env,
    slots,
    pgProxy,
    gatewayUrl: `http://127.0.0.1:${slots.get('gateway')!.env.PORT}`,
    kill,
    restart: async (name) => {
      const slot = slots.get(name)!;
      if (slot.current) await kill(name);
      slot.restarts++;
      await boot(slot);
    },
    schedulerMetrics: async () => {
      const url = slots.get('scheduler')!.current?.opsUrl;
      if (!url) return '';
      try {
        return await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(3000) })).text();
      } catch {
        return '';
      }
    },
    stop: async () => {
      await stopAll();
      await pgProxy.stop();
      await database.drop();
    },
  };
}

function gatewaySigningKey(): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/**
 * An access token of the admin dev user, through the gateway: it has conveyor:admin (the DLQ) and
 * points:grant (reservations).
 */
export async function adminToken(gatewayUrl: string): Promise<string> {
  const res = await fetch(`${gatewayUrl}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'admin@example.com', password: 'admin-password' }),
  });
  return ((await res.json()) as { accessToken: string }).accessToken;
}

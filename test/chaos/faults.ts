import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { GetQueueUrlCommand, PurgeQueueCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { topology } from '@conveyor/jobs';
import type pg from 'pg';
import type { ChaosPlatform, ServiceName } from './chaos-platform.js';

const run = promisify(execFile);
const INFRA = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../scripts/infra');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface FaultContext {
  platform: ChaosPlatform;
  db: pg.Pool;
  sqs: SQSClient;
  random: () => number;
  log: (line: string) => void;
}

/** One fault: `inject` breaks something, the returned `heal` repairs it; recovery is timed after heal. */
export interface Fault {
  name: string;
  inject: (ctx: FaultContext) => Promise<() => Promise<void>>;
}

/** Only through the project's scripts: they know the data dirs and wait for readiness. */
export async function infra(name: 'kafka' | 'postgres', action: 'stop' | 'start'): Promise<void> {
  await run(path.join(INFRA, `${name}.sh`), [action], { timeout: 180_000 });
}

export const killService = (name: ServiceName, pauseMs: number): Fault => ({
  name: `kill -9 ${name}`,
  inject: async ({ platform, random }) => {
    await sleep(Math.floor(random() * 2000)); // a random moment
    await platform.kill(name);
    return async () => {
      await sleep(pauseMs);
      await platform.restart(name);
    };
  },
});

async function waitForProcessing(ctx: FaultContext, pids: number[], timeoutMs = 20_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { rows } = await ctx.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM jobs WHERE status = 'processing' AND split_part(locked_by, '-', 2) = ANY($1::text[])",
      [pids.map(String)],
    );
    if (rows[0]!.n > 0) return rows[0]!.n;
    await sleep(100);
  }
  return 0;
}

export const killWorkerMidJob: Fault = {
  name: 'kill -9 worker mid-job',
  inject: async (ctx) => {
    const pid = ctx.platform.slots.get('worker-1')!.current!.process.pid!;
    const running = await waitForProcessing(ctx, [pid]);
    ctx.log(`  worker-1 had ${running} job(s) processing when killed`);
    await ctx.platform.kill('worker-1');
    return async () => {
      await sleep(1000);
      await ctx.platform.restart('worker-1');
    };
  },
};

export const killTwoWorkers: Fault = {
  name: 'kill -9 both default workers at once',
  inject: async (ctx) => {
    const pids = (['worker-1', 'worker-2'] as const).map((n) => ctx.platform.slots.get(n)!.current!.process.pid!);
    await waitForProcessing(ctx, pids);
    await Promise.all([ctx.platform.kill('worker-1'), ctx.platform.kill('worker-2')]);
    return async () => {
      await sleep(2000);
      await Promise.all([ctx.platform.restart('worker-1'), ctx.platform.restart('worker-2')]);
    };
  },
};

export const restartKafka = (downMs: number): Fault => ({
  name: 'Kafka stopped and started',
  inject: async () => {
    await infra('kafka', 'stop');
    return async () => {
      await sleep(downMs);
      await infra('kafka', 'start');
    };
  },
});

export const restartPostgres = (downMs: number): Fault => ({
  name: 'Postgres stopped and started',
  inject: async () => {
    await infra('postgres', 'stop');
    return async () => {
      await sleep(downMs);
      await infra('postgres', 'start');
    };
  },
});

export const purgeQueue: Fault = {
  name: "emulator's default queue purged by hand",
  inject: async ({ platform, sqs, log }) => {
    const queue = topology(platform.namespace).queues.find((q) => q.pool.name === 'default')!.queue;
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: queue }));
    await sqs.send(new PurgeQueueCommand({ QueueUrl }));
    log('  purged; the reconciler must re-drive what was queued');
    return async () => {};
  },
};

export const postgresLatency = (delayMs: number, forMs: number): Fault => ({
  name: `Postgres +${delayMs} ms latency for ${forMs / 1000} s`,
  inject: async ({ platform }) => {
    platform.pgProxy.setDelay(delayMs);
    await sleep(forMs);
    return async () => platform.pgProxy.setDelay(0);
  },
});

/** The same points.grant message delivered again, as SQS's at-least-once delivery may. */
export const duplicateDeliveries = (count: number): Fault => ({
  name: `${count} points.grant messages delivered twice`,
  inject: async ({ platform, db, sqs, log }) => {
    const queue = topology(platform.namespace).queues.find((q) => q.pool.name === 'default')!.queue;
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: queue }));
    const { rows } = await db.query<{ id: string; tenant: string; payload: unknown; created_at: Date; max_attempts: number; timeout_seconds: number }>(
      "SELECT id, tenant, payload, created_at, max_attempts, timeout_seconds FROM jobs WHERE type = 'points.grant' ORDER BY created_at DESC LIMIT $1",
      [count],
    );
    for (const job of rows) {
      const envelope = {
        v: 1,
        jobId: job.id,
        type: 'points.grant',
        tenant: job.tenant,
        payload: job.payload,
        createdAt: job.created_at.toISOString(),
        maxAttempts: job.max_attempts,
        timeoutSeconds: job.timeout_seconds,
      };
      await sqs.send(
        new SendMessageCommand({
          QueueUrl,
          MessageBody: JSON.stringify(envelope),
          MessageAttributes: { type: { DataType: 'String', StringValue: 'points.grant' } },
        }),
      );
    }
    log(`  re-sent ${rows.length} points.grant envelopes`);
    return async () => {};
  },
});

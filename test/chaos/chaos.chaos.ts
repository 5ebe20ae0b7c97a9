import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createSqsClient } from '@conveyor/platform';
import { topology } from '@conveyor/jobs';
import { GetQueueUrlCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { awsOptions } from '../support/infra.js';
import { adminToken, startChaosPlatform, type ChaosPlatform, type ServiceName } from './chaos-platform.js';
import {
  duplicateDeliveries,
  infra,
  killService,
  killTwoWorkers,
  killWorkerMidJob,
  postgresLatency,
  purgeQueue,
  restartKafka,
  restartPostgres,
  type Fault,
  type FaultContext,
} from './faults.js';
import { checkInvariants, TERMINAL } from './invariants.js';
import { startLoad } from './load.js';

const SHORT = process.env.CHAOS_SHORT === '1';
const SEED = Number(process.env.CHAOS_SEED ?? Date.now() % 100_000);
/** CHAOS_SKIP_INFRA=1 leaves Kafka and Postgres running (for a machine where others use them now). */
const SKIP_INFRA = process.env.CHAOS_SKIP_INFRA === '1';
const RATE = Number(process.env.CHAOS_RATE ?? (SHORT ? 8 : 12));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function plan(random: () => number): Fault[] {
  const services: ServiceName[] = ['api', 'bridge', 'scheduler', 'gateway', 'worker-2', 'reports'];
  const kills = services.map((s) => killService(s, 1000 + Math.floor(random() * 3000)));
  const shuffled = (list: Fault[]) => list.map((f) => [random(), f] as const).sort((a, b) => a[0] - b[0]).map(([, f]) => f);
  const infraFaults = [
    killWorkerMidJob,
    killTwoWorkers,
    ...(SKIP_INFRA ? [] : [restartKafka(SHORT ? 2000 : 8000), restartPostgres(SHORT ? 1000 : 5000)]),
    purgeQueue,
    postgresLatency(SHORT ? 150 : 300, SHORT ? 5000 : 15_000),
    duplicateDeliveries(SHORT ? 10 : 40),
  ];
  if (SHORT) return [...shuffled(kills).slice(0, 3), ...infraFaults];
  // Full run: every service killed twice at random moments, interleaved with every other fault.
  return shuffled([...kills, ...shuffled(kills), ...infraFaults]);
}

/** kafka.sh/postgres.sh `start` are idempotent: whatever a failed run left stopped is started. */
async function ensureInfraUp(): Promise<void> {
  await infra('postgres', 'start');
  await infra('kafka', 'start');
}

/**
 * Issue 10: under steady mixed load, kill every service (kill -9) and break every dependency in
 * turn; then, after quiescence, no accepted job is lost or stuck, no effect happened twice, every
 * job's events are in order and the DLQ holds only jobs designed to fail.
 */
describe('chaos: no accepted job is lost, no effect happens twice', () => {
  let platform: ChaosPlatform;
  let db: pg.Pool;
  let sqs: SQSClient;
  let token: string;
  const lines: string[] = [];
  const log = (line: string) => {
    lines.push(line);
    console.log(line);
  };

  beforeAll(async () => {
    await ensureInfraUp();
    platform = await startChaosPlatform();
    db = new pg.Pool({ connectionString: platform.database.url, max: 3 });
    db.on('error', () => {}); // Postgres restarts drop idle clients; the next query reconnects.
    sqs = createSqsClient(awsOptions);
    // The load reserves points too, which takes the points:grant scope: the admin dev user has it.
    token = await adminToken(platform.gatewayUrl);
  }, 300_000);

  afterAll(async () => {
    await ensureInfraUp().catch(() => {});
    sqs?.destroy();
    await db?.end();
    await platform?.stop();
  }, 300_000);

  /** Time from heal until a fresh noop, submitted through the gateway, has succeeded. */
  async function probe(timeoutMs = 180_000): Promise<number> {
    const started = Date.now();
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    while (Date.now() - started < timeoutMs) {
      try {
        const res = await fetch(`${platform.gatewayUrl}/jobs`, { method: 'POST', headers, body: '{"type":"noop","payload":{"probe":true}}', signal: AbortSignal.timeout(5000) });
        if (res.status === 202) {
          const { jobId } = (await res.json()) as { jobId: string };
          while (Date.now() - started < timeoutMs) {
            const job = await fetch(`${platform.gatewayUrl}/jobs/${jobId}`, { headers, signal: AbortSignal.timeout(5000) }).catch(() => undefined);
            if (job?.status === 200) return Date.now() - started;
            await sleep(200);
          }
        }
      } catch {
        // still down
      }
      await sleep(250);
    }
    throw new Error(`no probe job succeeded within ${timeoutMs} ms`);
  }

  /** Re-drive counts by reason, summed over the scheduler's lives (a restart resets its counters). */
  const redrives = new Map<string, number>();
  let lastSeen = new Map<string, number>();
  async function sampleRedrives(): Promise<void> {
    const text = await platform.schedulerMetrics();
    const now = new Map<string, number>();
    for (const m of text.matchAll(/^conveyor_scheduler_redrives_total\{reason="([^"]+)"\} (\d+)/gm)) now.set(m[1]!, Number(m[2]));
    for (const [reason, value] of now) {
      const before = lastSeen.get(reason) ?? 0;
      redrives.set(reason, (redrives.get(reason) ?? 0) + Math.max(0, value >= before ? value - before : value));
    }
    if (text) lastSeen = now;
  }

  it('holds every invariant through the faults', async () => {
    let rnd = SEED;
    const random = () => {
      rnd = (rnd * 1103515245 + 12345) % 2 ** 31;
      return rnd / 2 ** 31;
    };
    const ctx: FaultContext = { platform, db, sqs, random, log };
    const faults = plan(random);
    log(`chaos: ${SHORT ? 'short' : 'full'} run, seed ${SEED}, ${RATE} submissions/s, ${faults.length} faults`);
    const load = startLoad({ baseUrl: platform.gatewayUrl, token, ratePerSecond: RATE, seed: SEED });
    const sampler = setInterval(() => void sampleRedrives(), 1000);
    const recovery: Array<{ fault: string; ms: number }> = [];
    const started = Date.now();
    try {
      await sleep(SHORT ? 3000 : 10_000);
      for (const fault of faults) {
        await sampleRedrives();
        log(`fault: ${fault.name}`);
        const heal = await fault.inject(ctx);
        await heal();
        if (fault.name.startsWith('kill -9 scheduler')) lastSeen = new Map();
        const ms = await probe();
        recovery.push({ fault: fault.name, ms });
        log(`  recovered in ${ms} ms`);
        await sleep(SHORT ? 1000 : 3000 + Math.floor(random() * 5000));
      }
    } finally {
      await load.stop();
    }
    const loadSeconds = (Date.now() - started) / 1000;

    // Quiescence: every accepted job terminal, or the deadline passes and the stuck ones are reported.
    const quiesceStart = Date.now();
    const ids = [...new Set(load.stats.accepted.map((a) => a.jobId))];
    let open = ids.length;
    while (Date.now() - quiesceStart < 240_000) {
      const { rows } = await db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1::uuid[]) AND NOT (status = ANY($2::text[]))',
        [ids, TERMINAL],
      );
      open = rows[0]!.n;
      if (open === 0) break;
      await sleep(1000);
    }
    await sampleRedrives();
    clearInterval(sampler);
    const quiesceMs = Date.now() - quiesceStart;

    const verdict = await checkInvariants(db, load.stats.accepted);
    const dlq = await drainDeadLetters(sqs, platform.namespace);
    const designedToFail = new Set(load.stats.accepted.filter((a) => a.expect === 'failed').map((a) => a.jobId));
    const undesignedInDlq = dlq.filter((id) => !designedToFail.has(id));

    log('');
    log('chaos summary');
    log(`  load held          ${load.stats.accepted.length} accepted (${verdict.distinctJobs} distinct jobs) in ${loadSeconds.toFixed(0)} s at ${RATE}/s`);
    log(`  refused (not 202)  ${JSON.stringify(Object.fromEntries(load.stats.refused))}`);
    log(`  completed          ${verdict.completed}`);
    log(`  failed as designed ${verdict.failedAsDesigned}`);
    log(`  unexpected status  ${verdict.unexpected.length}`);
    log(`  lost               ${verdict.lost.length}`);
    log(`  stuck              ${verdict.stuck.length} (quiescence after ${quiesceMs} ms)`);
    log(`  duplicated effects ${verdict.duplicatedEffects.length + verdict.reservationsGrantedTwice}`);
    log(`  idempotency breaks ${load.stats.idempotencyViolations.length}`);
    log(`  event order errors ${verdict.eventOrder.length}`);
    log(`  DLQ                ${dlq.length} messages, ${undesignedInDlq.length} not designed to fail`);
    log(`  re-drives          ${JSON.stringify(Object.fromEntries(redrives))}`);
    log(`  restarts           ${JSON.stringify(Object.fromEntries([...platform.slots].map(([n, s]) => [n, s.restarts])))}`);
    log('  recovery after each fault:');
    for (const r of recovery) log(`    ${r.fault.padEnd(44)} ${(r.ms / 1000).toFixed(1)} s`);

    expect(verdict.lost, 'lost jobs').toEqual([]);
    expect(verdict.stuck, 'stuck jobs').toEqual([]);
    expect(verdict.duplicatedEffects, 'balances != sum of distinct granted reservations').toEqual([]);
    expect(verdict.reservationsGrantedTwice).toBe(0);
    expect(load.stats.idempotencyViolations).toEqual([]);
    expect(verdict.eventOrder.slice(0, 20), 'event order').toEqual([]);
    expect(verdict.unexpected.slice(0, 20), 'jobs that ended otherwise than designed').toEqual([]);
    expect(undesignedInDlq, 'DLQ holds only jobs designed to fail').toEqual([]);
    expect(verdict.completed).toBeGreaterThan(0);
    expect(verdict.failedAsDesigned).toBeGreaterThan(0);
  }, 3_600_000);
});

/** Every job id in the default pool's DLQ (received, not deleted: the run's database is dropped anyway). */
async function drainDeadLetters(sqs: SQSClient, namespace: string): Promise<string[]> {
  const dlq = topology(namespace).queues.find((q) => q.pool.name === 'default')!.deadLetterQueue;
  const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: dlq }));
  const ids: string[] = [];
  for (let empty = 0; empty < 2; ) {
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 600 }));
    if (Messages.length === 0) empty++;
    for (const m of Messages) {
      try {
        ids.push(String((JSON.parse(m.Body ?? '') as { jobId?: string }).jobId));
      } catch {
        ids.push(`unparseable:${m.MessageId}`);
      }
    }
  }
  return ids;
}

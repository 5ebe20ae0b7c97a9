import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { GetQueueAttributesCommand, GetQueueUrlCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { createSqsClient } from '@conveyor/platform';
import { topology } from '@conveyor/jobs';
import { awsOptions } from '../support/infra.js';
import { adminToken, startChaosPlatform, type ChaosPlatform } from './chaos-platform.js';
import { checkInvariants } from './invariants.js';
import type { Accepted } from './load.js';

const SHORT = process.env.CHAOS_SHORT === '1';
/** The 5,000 in the full run; CI's short run proves the same with fewer. */
const JOBS = Number(process.env.CHAOS_REDRIVE_JOBS ?? (SHORT ? 500 : 5000));
/** Reservations submitted at once. */
const CHUNK = 50;
const USERS = ['ada', 'bea', 'cyd'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Issue 22: a bulk DLQ redrive whose api is killed (kill -9) in the middle of it, then restarted
 * and sent the redrive again until the DLQ is empty, loses no job and runs none twice.
 *
 * The jobs die the real way: points reservations (POST /points/reservations) due in 15 s, whose
 * stored rows are then changed to name another user, so each grant job fails with a
 * PermanentJobError on its first attempt, and the worker moves their messages to the
 * default pool's DLQ. Correcting the reservations is the fix an operator makes before a redrive;
 * each job's second attempt then succeeds and grants its points.
 */
describe('chaos: a bulk DLQ redrive killed midway loses nothing and runs nothing twice', () => {
  let platform: ChaosPlatform;
  let db: pg.Pool;
  let sqs: SQSClient;
  let token: string;
  let dlqUrl: string;

  beforeAll(async () => {
    platform = await startChaosPlatform();
    db = new pg.Pool({ connectionString: platform.database.url, max: 3 });
    sqs = createSqsClient(awsOptions);
    token = await adminToken(platform.gatewayUrl);
    const dlq = topology(platform.namespace).queues.find((q) => q.pool.name === 'default')!.deadLetterQueue;
    dlqUrl = (await sqs.send(new GetQueueUrlCommand({ QueueName: dlq }))).QueueUrl!;
  }, 300_000);

  afterAll(async () => {
    sqs?.destroy();
    await db?.end();
    await platform?.stop();
  }, 300_000);

  const post = (path: string, body: unknown) =>
    fetch(`${platform.gatewayUrl}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(120_000),
    });

  /** Messages in the DLQ, visible and hidden (received by a sweep, not yet deleted or handed back). */
  async function dlqDepth(): Promise<{ visible: number; hidden: number }> {
    const { Attributes = {} } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
    );
    return { visible: Number(Attributes.ApproximateNumberOfMessages), hidden: Number(Attributes.ApproximateNumberOfMessagesNotVisible) };
  }

  async function waitFor(what: string, timeoutMs: number, done: () => Promise<boolean>, everyMs = 500): Promise<number> {
    const started = Date.now();
    while (!(await done())) {
      if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
      await sleep(everyMs);
    }
    return Date.now() - started;
  }

  const countWhere = async (sql: string, values: unknown[]) => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`, values)).rows[0]!.n;

  it(`${JOBS} dead letters: kill -9 the api mid-redrive, restart, redrive again: each job ran exactly once more`, async () => {
    const started = Date.now();
    const log = (line: string) => console.log(`[redrive chaos +${((Date.now() - started) / 1000).toFixed(1)} s] ${line}`);

    // 1. JOBS reservations, due shortly; before they are due, each is made to name another user, so
    // its grant job's first attempt fails permanently.
    const jobIds: string[] = [];
    for (let offset = 0; offset < JOBS; offset += CHUNK) {
      const runAt = new Date(Date.now() + 15_000).toISOString();
      const ids = await Promise.all(
        Array.from({ length: Math.min(CHUNK, JOBS - offset) }, async (_, i) => {
          const res = await post('/points/reservations', { userId: USERS[(offset + i) % USERS.length], amount: 1 + ((offset + i) % 97), runAt });
          const body = (await res.json()) as { jobId: string };
          expect(res.status, JSON.stringify(body)).toBe(202);
          return body.jobId;
        }),
      );
      await db.query(`UPDATE points_reservations SET user_id = 'nobody' WHERE job_id = ANY($1::uuid[])`, [ids]);
      jobIds.push(...ids);
    }
    log(`${JOBS} jobs submitted`);
    const deadMs = await waitFor('every job dead, its message in the DLQ', 900_000, async () => {
      const dead = await countWhere(`jobs WHERE id = ANY($1::uuid[]) AND status = 'failed'`, [jobIds]);
      return dead === JOBS && (await dlqDepth()).visible === JOBS;
    });
    log(`all ${JOBS} dead and in the DLQ (${deadMs} ms after the last submission)`);
    expect(await countWhere(`jobs WHERE id = ANY($1::uuid[]) AND attempts = 1 AND error LIKE 'grant does not match reservation%'`, [jobIds])).toBe(JOBS);

    // 2. The operator's fix, then a redrive of everything, its api killed once the sweep has
    // deleted a tenth of the messages (the moment read from the DLQ, not guessed).
    await db.query(`UPDATE points_reservations r SET user_id = j.payload->>'userId' FROM jobs j WHERE j.id = r.job_id AND j.id = ANY($1::uuid[])`, [jobIds]);
    const first = post('/dlq/redrive', { all: true }).then(
      (res) => `answered ${res.status}`,
      (error: unknown) => `failed: ${String(error)}`,
    );
    let atKill = { visible: JOBS, hidden: 0 };
    await waitFor('the sweep a tenth through', 120_000, async () => {
      atKill = await dlqDepth();
      return atKill.visible + atKill.hidden <= JOBS - Math.max(1, Math.floor(JOBS / 10));
    }, 20);
    await platform.kill('api');
    const afterKill = await dlqDepth();
    const requeuedAtKill = await countWhere(`job_events WHERE job_id = ANY($1::uuid[]) AND type = 'retried'`, [jobIds]);
    log(`api killed mid-sweep: DLQ ${JSON.stringify(afterKill)}, ${requeuedAtKill} jobs requeued; the first redrive ${await first}`);
    expect(afterKill.visible + afterKill.hidden, 'killed before the sweep had finished').toBeGreaterThan(0);

    // 3. The platform restarts the api; the operator sends the redrive again until its reply says
    // it swept everything (messages the killed sweep had received are hidden until their
    // visibility ends, and the reply must not claim success before): then the DLQ is empty.
    await platform.restart('api');
    const replies: Array<{ requeued: number; deletedMessages: number; sweptAll: boolean; more: boolean }> = [];
    const drainMs = await waitFor('a redrive that swept everything', 300_000, async () => {
      const res = await post('/dlq/redrive', { all: true });
      const reply = (await res.json()) as (typeof replies)[number];
      expect(res.status, JSON.stringify(reply)).toBe(200);
      replies.push({ requeued: reply.requeued, deletedMessages: reply.deletedMessages, sweptAll: reply.sweptAll, more: reply.more });
      if (!reply.sweptAll) await sleep(2000);
      return reply.sweptAll && !reply.more;
    });
    log(`swept all ${drainMs} ms after the restart; redrives since: ${JSON.stringify(replies)}`);
    expect(await dlqDepth(), 'the DLQ once a redrive says it swept all').toEqual({ visible: 0, hidden: 0 });

    // 4. Every job ran exactly once more and succeeded; its effect happened once.
    await waitFor('every job succeeded', 900_000, async () => (await countWhere(`jobs WHERE id = ANY($1::uuid[]) AND status = 'success'`, [jobIds])) === JOBS);
    log(`all ${JOBS} succeeded`);
    const accepted: Accepted[] = jobIds.map((jobId) => ({ jobId, kind: 'points', expect: 'success', acceptedAt: started }));
    const verdict = await checkInvariants(db, accepted);
    expect(verdict.lost).toEqual([]);
    expect(verdict.stuck).toEqual([]);
    expect(verdict.unexpected.slice(0, 10)).toEqual([]);
    expect(verdict.eventOrder.slice(0, 10), 'one started event per attempt, in order').toEqual([]);
    expect(verdict.duplicatedEffects).toEqual([]);
    expect(verdict.reservationsGrantedTwice).toBe(0);
    expect(verdict.completed).toBe(JOBS);
    // Requeued once each, run twice in all (the failed attempt and the redriven one), granted once.
    const { rows } = await db.query<{ retried: number; started: number; n: number }>(
      `SELECT retried, started, count(*)::int AS n FROM (
         SELECT job_id, count(*) FILTER (WHERE type = 'retried')::int AS retried, count(*) FILTER (WHERE type = 'started')::int AS started
           FROM job_events WHERE job_id = ANY($1::uuid[]) GROUP BY job_id) per_job
        GROUP BY retried, started`,
      [jobIds],
    );
    expect(rows).toEqual([{ retried: 1, started: 2, n: JOBS }]);
    expect(await countWhere(`jobs WHERE id = ANY($1::uuid[]) AND attempts = 2`, [jobIds])).toBe(JOBS);
    expect(await countWhere('points_transactions WHERE job_id = ANY($1::uuid[])', [jobIds])).toBe(JOBS);
    expect(await dlqDepth()).toEqual({ visible: 0, hidden: 0 });
    expect(replies.reduce((n, r) => n + r.requeued, 0), 'the rest, requeued after the restart').toBe(JOBS - requeuedAtKill);
  }, 3_600_000);
});

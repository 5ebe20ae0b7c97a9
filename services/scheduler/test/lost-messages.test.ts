import { DeleteMessageCommand, GetQueueAttributesCommand, GetQueueUrlCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafka, createLogger, createPool, createSqsClient, parseEnvelope, type Admin, type Pool } from '@conveyor/platform';
import { topology } from '@conveyor/jobs';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.js';
import { awsOptions, infra, uniqueName } from '../../../test/support/infra.js';
import { platformEnv, prepareNamespace } from '../../../test/support/platform.js';
import { startService, type RunningService } from '../../../test/support/service-process.js';
import { waitUntil } from '../../../test/support/wait.js';

const BACKLOG = 10_000;
/** Of the backlog, jobs of the high class: their messages wait in the pool's high queue. */
const HIGH = 500;
const DELETED = 7;
const REDRIVE_AFTER_SECONDS = 5;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Issue 20.5: a backlog no worker reads must never be re-sent, however long it waits; messages
 * taken out of the queue by hand must be re-sent, exactly those. Real Postgres, Kafka, bridge,
 * SNS and SQS (fauxqs); no worker runs. Part of the backlog is high-priority work, so the pool's
 * messages are spread over two of its class queues, and the check must count and scan both.
 */
describe('lost messages: a 10,000-job backlog with no workers', () => {
  const namespace = uniqueName('lost').toLowerCase().replace(/_/g, '-');
  const topo = topology(namespace);
  const names = topo.queues.find((q) => q.pool.name === 'default')!.classQueues;
  let db: TestDatabase;
  let pool: Pool;
  let sqs: SQSClient;
  let admin: Admin;
  let queueUrls: string[];
  let scheduler: RunningService;
  const services: RunningService[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    const env = {
      ...platformEnv(namespace, db.url),
      RECONCILE_INTERVAL_MS: '1000',
      QUEUED_REDRIVE_AFTER_SECONDS: String(REDRIVE_AFTER_SECONDS),
      LAG_INTERVAL_MS: '0',
    };
    await prepareNamespace(env);
    pool = createPool({ connectionString: db.url, max: 3 });
    sqs = createSqsClient(awsOptions);
    queueUrls = await Promise.all([names.normal, names.high].map(async (name) => (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl!));
    admin = createKafka({ brokers: infra.kafkaBrokers, clientId: 'lost-messages-test', logger: createLogger({ service: 'test', level: 'silent' }) }).admin();
    await admin.connect();
    await pool.query(
      `INSERT INTO jobs (id, tenant, owner, type, payload, status)
       SELECT gen_random_uuid(), 'demo', 'user-1', 'noop', '{}', 'queued' FROM generate_series(1, $1)`,
      [BACKLOG - HIGH],
    );
    await pool.query(
      `INSERT INTO jobs (id, tenant, owner, type, payload, status, priority)
       SELECT gen_random_uuid(), 'demo', 'user-1', 'noop', '{}', 'queued', 1 FROM generate_series(1, $1)`,
      [HIGH],
    );
    // The scheduler's outbox relay publishes the backlog to Kafka; the bridge hands it to SNS.
    services.push(await startService('bridge', env));
    scheduler = await startService('scheduler', env);
    services.push(scheduler);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop('SIGKILL')));
    await admin?.disconnect();
    sqs?.destroy();
    await pool?.end();
    await db?.drop();
  });

  const depthOf = async (queueUrl: string) => {
    const { Attributes = {} } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
    );
    return Number(Attributes.ApproximateNumberOfMessages) + Number(Attributes.ApproximateNumberOfMessagesNotVisible);
  };
  const depth = async () => (await Promise.all(queueUrls.map(depthOf))).reduce((a, b) => a + b, 0);
  /** Records ever produced to jobs.requested: one per publish, re-sends included. */
  const produced = async () => (await admin.fetchTopicOffsets(topo.topics.requested)).reduce((sum, p) => sum + Number(p.high), 0);
  const metric = async (pattern: RegExp) => Number(pattern.exec(await (await fetch(`${scheduler.url}/metrics`)).text())?.[1] ?? 0);
  const expectedMessages = () => metric(/^conveyor_scheduler_queue_expected_messages\{[^}]*pool="default"[^}]*\} (\d+)$/m);
  const lostRedrives = () => metric(/^conveyor_scheduler_redrives_total\{[^}]*reason="message_lost"[^}]*\} (\d+)$/m);
  const scans = () => metric(/^conveyor_scheduler_queue_scans_total\{[^}]*outcome="complete"[^}]*\} (\d+)$/m);
  const lostEvents = async () =>
    (await pool.query<{ job_id: string }>(`SELECT job_id FROM job_events WHERE type = 'queued' AND data->>'reason' = 'message_lost' ORDER BY job_id`)).rows.map((r) => r.job_id);

  it('re-sends none of the waiting backlog, then exactly the messages deleted by hand', async () => {
    await waitUntil(async () => (await depth()) === BACKLOG, 120_000, 'the backlog to reach the queue', 500);
    expect(await depthOf(queueUrls[1]!)).toBe(HIGH);
    expect(await produced()).toBe(BACKLOG);

    // Every job is now older than the threshold and counted by the check; five more passes.
    await waitUntil(async () => (await expectedMessages()) === BACKLOG, 60_000, 'the reconciler to count the whole backlog', 250);
    await sleep(5_000);
    expect(await lostRedrives()).toBe(0);
    expect(await scans()).toBe(0);
    expect(await lostEvents()).toEqual([]);
    expect((await pool.query(`SELECT count(*)::int AS n FROM jobs WHERE published_at IS NULL`)).rows[0].n).toBe(0);
    expect(await produced()).toBe(BACKLOG);
    expect(await depth()).toBe(BACKLOG);

    // Someone receives and deletes a few messages of each class queue: those jobs' messages are lost.
    const deleted: string[] = [];
    for (const [queueUrl, n] of [[queueUrls[0]!, DELETED - 3], [queueUrls[1]!, 3]] as const) {
      const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: n, VisibilityTimeout: 60 }));
      expect(Messages).toHaveLength(n);
      for (const message of Messages) {
        const parsed = parseEnvelope(message.Body);
        if (!parsed.ok) throw new Error(parsed.error);
        deleted.push(parsed.envelope.jobId);
        await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
      }
    }
    deleted.sort();

    await waitUntil(async () => (await lostRedrives()) >= DELETED, 60_000, 'the lost messages to be re-sent', 250);
    expect(await lostEvents()).toEqual(deleted);
    expect(await scans()).toBe(1);
    // The re-sent jobs travel again: seven more records, and the queue is whole.
    await waitUntil(async () => (await produced()) === BACKLOG + DELETED && (await depth()) === BACKLOG, 60_000, 'the re-sent messages to arrive', 250);
    // The three re-sent high jobs went back to the high queue.
    expect(await depthOf(queueUrls[1]!)).toBe(HIGH);

    // Once they age past the threshold too, the queue is whole again: no further scans or re-sends.
    await waitUntil(async () => (await expectedMessages()) === BACKLOG, 60_000, 'the re-sent jobs to be counted again', 250);
    await sleep(3_000);
    expect(await lostRedrives()).toBe(DELETED);
    expect(await scans()).toBe(1);
    expect(await produced()).toBe(BACKLOG + DELETED);

    // One message per job in the queues, none twice; the re-sent ones kept their class.
    const seen = new Map<string, number>();
    for (const queueUrl of queueUrls) {
      for (;;) {
        const { Messages: batch = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 300, WaitTimeSeconds: 1 }));
        if (batch.length === 0) break;
        for (const message of batch) {
          const parsed = parseEnvelope(message.Body);
          if (parsed.ok) seen.set(parsed.envelope.jobId, (seen.get(parsed.envelope.jobId) ?? 0) + 1);
        }
      }
    }
    expect(seen.size).toBe(BACKLOG);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    for (const id of deleted) expect(seen.get(id)).toBe(1);
    expect(scheduler.process.exitCode).toBeNull();
  }, 420_000);
});

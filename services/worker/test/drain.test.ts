import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { createPool, createSqsClient, type Pool } from '@conveyor/platform';
import { migrateJobsSchema } from '@conveyor/jobs';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.js';
import { awsOptions } from '../../../test/support/infra.js';
import type { RunningService } from '../../../test/support/service-process.js';
import { createPoolQueues, enqueue, eventsOf, startWorker, topology, uniqueNamespace, waitForStatus, type PoolQueues } from '../../../packages/worker-sdk/test/support.js';

describe('worker drain on SIGTERM (KEDA scale-in)', () => {
  let db: TestDatabase;
  let pool: Pool;
  let sqs: SQSClient;
  let queues: PoolQueues;
  const started: RunningService[] = [];
  const namespace = uniqueNamespace('wd');
  const worker = async (extra: Record<string, string> = {}) => {
    const w = await startWorker({ databaseUrl: db.url, namespace, extra });
    started.push(w);
    return w;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 5 });
    await migrateJobsSchema(pool);
    sqs = createSqsClient(awsOptions);
    queues = await createPoolQueues(sqs, topology(namespace));
  });
  afterAll(async () => {
    await Promise.all(started.map((w) => w.stop('SIGKILL')));
    sqs?.destroy();
    await pool?.end();
    await db?.drop();
  });

  it('finishes a running job within the grace period, then exits 0', async () => {
    const w = await worker({ SHUTDOWN_GRACE_MS: '10000' });
    const jobId = await enqueue(pool, sqs, queues.queueUrl, { type: 'sleep', payload: { ms: 3_000 } });
    await waitForStatus(pool, jobId, 'processing');
    const signalled = Date.now();
    await w.stopCleanly();
    expect(Date.now() - signalled).toBeGreaterThanOrEqual(1_500);
    expect(await waitForStatus(pool, jobId, 'success', 1_000)).toMatchObject({ attempts: 1, result: { json: { sleptMs: 3_000 } } });
    expect(w.output()).toMatch(/waiting for running jobs to finish/);
    // The finished job's message was deleted before the process exited, not left to come back.
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queues.queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
    );
    expect(Attributes).toMatchObject({ ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0' });
  });

  it('returns a job that outlives the grace period to the queue, where a second worker completes it', async () => {
    const first = await worker({ SHUTDOWN_GRACE_MS: '4000', WORKER_DRAIN_MS: '1000' });
    const jobId = await enqueue(pool, sqs, queues.queueUrl, { type: 'sleep', payload: { ms: 6_000 } });
    await waitForStatus(pool, jobId, 'processing');
    await first.stopCleanly();
    const released = await waitForStatus(pool, jobId, 'queued', 1_000);
    expect(released.attempts).toBe(0);

    const second = await worker();
    const secondUp = Date.now();
    await waitForStatus(pool, jobId, 'processing', 30_000);
    // Visibility 0: the second worker gets the message at once, well inside the 60 s visibility
    // timeout it would otherwise wait out (the bound is loose for a loaded CI machine).
    expect(Date.now() - secondUp).toBeLessThan(30_000);
    expect(await waitForStatus(pool, jobId, 'success', 15_000)).toMatchObject({ attempts: 1 });
    const types = (await eventsOf(pool, jobId)).map((e) => e.type).filter((t) => t !== 'progress');
    expect(types).toEqual(['created', 'started', 'queued', 'started', 'succeeded']);
    await second.stopCleanly();
  });
});

import { randomUUID } from 'node:crypto';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { serializeEnvelope, toMessageAttributes, type Pool, type PriorityClass } from '@conveyor/platform';
import { createJob, topology, type NewJob, type Topology } from '@conveyor/jobs';
import { awsOptions, infra } from '../../../test/support/infra.js';
import { startService, type RunningService } from '../../../test/support/service-process.js';
import { waitFor } from '../../../test/support/wait.js';

export { waitFor };

export const aws = {
  AWS_ENDPOINT_URL: infra.awsEndpoint,
  AWS_REGION: infra.awsRegion,
  AWS_ACCESS_KEY_ID: awsOptions.accessKeyId,
  AWS_SECRET_ACCESS_KEY: awsOptions.secretAccessKey,
};

/** A namespace (and S3 bucket name) no other test file uses: lowercase and dashes only. */
export function uniqueNamespace(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

export interface PoolQueues {
  queueUrl: string;
  dlqUrl: string;
}

/** The pool's queue and DLQ with the attributes provisioning gives them (visibility, redrive). */
export async function createPoolQueues(sqs: SQSClient, t: Topology, poolName = 'default'): Promise<PoolQueues> {
  const q = t.queues.find((x) => x.pool.name === poolName)!;
  return createQueues(sqs, q, q.pool);
}

/** Every priority class's queue of the pool (high, normal, low) and its DLQ, as provisioning makes them. */
export async function createClassQueues(sqs: SQSClient, t: Topology, poolName = 'default'): Promise<PoolQueues & { classUrls: Record<PriorityClass, string> }> {
  const q = t.queues.find((x) => x.pool.name === poolName)!;
  const normal = await createQueues(sqs, q, q.pool);
  const other = async (name: string) => (await createQueues(sqs, { queue: name, deadLetterQueue: q.deadLetterQueue }, q.pool)).queueUrl;
  return { ...normal, classUrls: { high: await other(q.classQueues.high), normal: normal.queueUrl, low: await other(q.classQueues.low) } };
}

/** A queue and its DLQ by name (any pool's, a team's too), redriving after maxReceiveCount receives. */
export async function createQueues(
  sqs: SQSClient,
  names: { queue: string; deadLetterQueue: string },
  pool: { visibilityTimeoutSeconds: number; maxReceiveCount: number },
): Promise<PoolQueues> {
  const dlq = await sqs.send(new CreateQueueCommand({ QueueName: names.deadLetterQueue }));
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }));
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: names.queue,
      Attributes: {
        VisibilityTimeout: String(pool.visibilityTimeoutSeconds),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: Attributes!.QueueArn, maxReceiveCount: pool.maxReceiveCount }),
      },
    }),
  );
  return { queueUrl: queue.QueueUrl!, dlqUrl: dlq.QueueUrl! };
}

/** Messages waiting (visible) and received but not yet deleted (in flight) in a queue. */
export async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<{ visible: number; inFlight: number }> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return { visible: Number(Attributes.ApproximateNumberOfMessages), inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible) };
}

export async function createBucket(s3: S3Client, name: string): Promise<void> {
  await s3.send(new CreateBucketCommand({ Bucket: name }));
}

export type TestJob = Pick<NewJob, 'type' | 'payload'> & Partial<NewJob>;

/** Stores a job as the api would and marks it published as the relay would; returns its envelope. */
export async function storeJob(db: Pool, job: TestJob): Promise<{ jobId: string; body: string; type: string }> {
  const outcome = await createJob(db, { tenant: 'demo', owner: 'user-1', requestId: randomUUID(), ...job });
  if (outcome.kind !== 'created') throw new Error(`job not created: ${outcome.kind}`);
  const { rows } = await db.query(
    `UPDATE jobs SET published_at = now() WHERE id = $1
     RETURNING tenant, created_at, max_attempts, timeout_seconds`,
    [outcome.jobId],
  );
  const row = rows[0];
  const body = serializeEnvelope({
    v: 1,
    jobId: outcome.jobId,
    type: job.type,
    tenant: row.tenant,
    payload: job.payload,
    createdAt: row.created_at.toISOString(),
    maxAttempts: row.max_attempts,
    timeoutSeconds: row.timeout_seconds,
  });
  return { jobId: outcome.jobId, body, type: job.type };
}

/** Sends a job's envelope as the bridge does (raw delivery: body + type/trace attributes). */
export async function deliver(sqs: SQSClient, queueUrl: string, message: { body: string; type: string; runAt?: Date }): Promise<void> {
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: message.body,
      MessageAttributes: toMessageAttributes(
        {
          traceparent: `00-${randomUUID().replaceAll('-', '')}-${randomUUID().replaceAll('-', '').slice(0, 16)}-01`,
          requestId: 'req-test',
          runAt: message.runAt?.toISOString(),
        },
        message.type,
      ),
    }),
  );
}

export async function enqueue(db: Pool, sqs: SQSClient, queueUrl: string, job: TestJob): Promise<string> {
  const stored = await storeJob(db, job);
  await deliver(sqs, queueUrl, stored);
  return stored.jobId;
}

export async function drainQueue(sqs: SQSClient, queueUrl: string, waitSeconds = 1): Promise<Message[]> {
  const all: Message[] = [];
  for (;;) {
    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: waitSeconds, MessageAttributeNames: ['All'] }),
    );
    if (!Messages?.length) return all;
    all.push(...Messages);
  }
}

export interface JobRow {
  status: string;
  attempts: number;
  result: unknown;
  result_key: string | null;
  error: string | null;
  progress: number | null;
}

export async function jobRow(db: Pool, jobId: string): Promise<JobRow> {
  const { rows } = await db.query<JobRow>('SELECT status, attempts, result, result_key, error, progress FROM jobs WHERE id = $1', [jobId]);
  return rows[0]!;
}

export function waitForStatus(db: Pool, jobId: string, status: string, timeoutMs = 30_000): Promise<JobRow> {
  return waitFor(`job ${jobId} to be ${status}`, async () => {
    const row = await jobRow(db, jobId);
    return row.status === status ? row : undefined;
  }, timeoutMs);
}

export async function eventsOf(db: Pool, jobId: string): Promise<Array<{ type: string; data: Record<string, unknown>; created_at: Date }>> {
  const { rows } = await db.query('SELECT type, data, created_at FROM job_events WHERE job_id = $1 ORDER BY id', [jobId]);
  return rows;
}

export interface WorkerEnv {
  databaseUrl: string;
  namespace: string;
  bucket?: string;
  extra?: Record<string, string>;
}

export function startWorker({ databaseUrl, namespace, bucket, extra }: WorkerEnv): Promise<RunningService> {
  return startService('worker', {
    ...aws,
    DATABASE_URL: databaseUrl,
    CONVEYOR_NAMESPACE: namespace,
    RECEIVE_WAIT_SECONDS: '1',
    HEARTBEAT_INTERVAL_MS: '300',
    LEASE_SECONDS: '5',
    RETRY_BACKOFF_BASE_SECONDS: '1',
    RETRY_BACKOFF_MAX_SECONDS: '2',
    ...(bucket ? { S3_BUCKET: bucket } : {}),
    ...extra,
  });
}

export { topology };

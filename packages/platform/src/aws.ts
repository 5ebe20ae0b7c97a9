import { SQSClient, GetQueueAttributesCommand, ListQueuesCommand } from '@aws-sdk/client-sqs';
import { SNSClient, ListTopicsCommand } from '@aws-sdk/client-sns';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Agent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';

export interface AwsOptions {
  region: string;
  /** Emulator endpoint; when set, every client talks to it and nowhere else. */
  endpoint?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Upper bound on parallel sockets per client. */
  maxSockets?: number;
}

function clientConfig({ region, endpoint, accessKeyId, secretAccessKey, maxSockets = 64 }: AwsOptions) {
  return {
    region,
    ...(endpoint ? { endpoint } : {}),
    ...(accessKeyId && secretAccessKey ? { credentials: { accessKeyId, secretAccessKey } } : {}),
    requestHandler: new NodeHttpHandler({
      httpAgent: new Agent({ keepAlive: true, maxSockets }),
      httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets }),
      connectionTimeout: 3_000,
      // Above the 20 s SQS long poll so a waiting receive is not cut short.
      requestTimeout: 30_000,
    }),
  };
}

/**
 * SQS client. With an endpoint set, requests go there even though QueueUrls name another host:
 * the SDK otherwise sends each request to the host inside the QueueUrl.
 */
export function createSqsClient(options: AwsOptions): SQSClient {
  return new SQSClient({ ...clientConfig(options), ...(options.endpoint ? { useQueueUrlAsEndpoint: false } : {}) });
}

export function createSnsClient(options: AwsOptions): SNSClient {
  return new SNSClient(clientConfig(options));
}

/** S3 client; emulators serve buckets by path, not by virtual host. */
export function createS3Client(options: AwsOptions): S3Client {
  return new S3Client({ ...clientConfig(options), forcePathStyle: Boolean(options.endpoint) });
}

export async function pingSqs(sqs: SQSClient): Promise<void> {
  await sqs.send(new ListQueuesCommand({ MaxResults: 1 }));
}

export async function pingSns(sns: SNSClient): Promise<void> {
  await sns.send(new ListTopicsCommand({}));
}

/** A queue's messages by state, as SQS (and KEDA) count them. */
export interface QueueDepth {
  visible: number;
  /** Received and not yet deleted. */
  inFlight: number;
  delayed: number;
}

/** One GetQueueAttributes call: the approximate counts of a queue. */
export async function readQueueDepth(sqs: SQSClient, queueUrl: string): Promise<QueueDepth> {
  const { Attributes: a = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
    }),
  );
  return {
    visible: Number(a.ApproximateNumberOfMessages ?? 0),
    inFlight: Number(a.ApproximateNumberOfMessagesNotVisible ?? 0),
    delayed: Number(a.ApproximateNumberOfMessagesDelayed ?? 0),
  };
}

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { CreateTopicCommand, DeleteTopicCommand, PublishCommand, SubscribeCommand, type SNSClient } from '@aws-sdk/client-sns';
import { CreateBucketCommand, PutObjectCommand, GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { createS3Client, createSnsClient, createSqsClient, toMessageAttributes } from '@conveyor/platform';
import { awsOptions, uniqueName } from '../../../test/support/infra.js';

/** The SNS/SQS/S3 behaviours Conveyor relies on, checked against the emulator over the network. */
describe('SNS/SQS/S3 emulator', () => {
  let sqs: SQSClient;
  let sns: SNSClient;
  let s3: S3Client;
  const cleanups: Array<() => Promise<unknown>> = [];

  beforeAll(() => {
    sqs = createSqsClient(awsOptions);
    sns = createSnsClient(awsOptions);
    s3 = createS3Client(awsOptions);
  });
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    sqs.destroy();
    sns.destroy();
    s3.destroy();
  });

  async function createQueue(name: string, attributes: Record<string, string> = {}) {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    cleanups.push(() => sqs.send(new DeleteQueueCommand({ QueueUrl })));
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
    return { url: QueueUrl!, arn: Attributes!.QueueArn! };
  }

  async function receive(url: string, wait = 1, max = 10) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: max,
        WaitTimeSeconds: wait,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['ApproximateReceiveCount'],
      }),
    );
    return Messages;
  }

  it('fans SNS out to SQS by a filter policy on the type attribute, raw delivery keeping attributes', async () => {
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: uniqueName('jobs') }));
    cleanups.push(() => sns.send(new DeleteTopicCommand({ TopicArn })));
    const reports = await createQueue(uniqueName('reports'));
    const points = await createQueue(uniqueName('points'));
    for (const [queue, types] of [
      [reports, ['report.generate']],
      [points, ['points.grant']],
    ] as const) {
      await sns.send(
        new SubscribeCommand({
          TopicArn,
          Protocol: 'sqs',
          Endpoint: queue.arn,
          Attributes: { RawMessageDelivery: 'true', FilterPolicy: JSON.stringify({ type: types }) },
        }),
      );
    }
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    await sns.send(
      new PublishCommand({
        TopicArn,
        Message: JSON.stringify({ jobId: 'r1' }),
        MessageAttributes: toMessageAttributes({ traceparent, requestId: 'req-1' }, 'report.generate'),
      }),
    );
    await sns.send(
      new PublishCommand({ TopicArn, Message: '{"jobId":"p1"}', MessageAttributes: toMessageAttributes({}, 'points.grant') }),
    );

    const [report] = await receive(reports.url);
    expect(report?.Body).toBe('{"jobId":"r1"}'); // raw: the body is the message, not an SNS envelope
    expect(report?.MessageAttributes?.traceparent?.StringValue).toBe(traceparent);
    expect(report?.MessageAttributes?.request_id?.StringValue).toBe('req-1');
    const pointMessages = await receive(points.url);
    expect(pointMessages.map((m) => m.Body)).toEqual(['{"jobId":"p1"}']);
    expect(await receive(reports.url, 0)).toEqual([]);
  });

  it('moves a message to the DLQ after maxReceiveCount receives', async () => {
    const dlq = await createQueue(uniqueName('dlq'));
    const main = await createQueue(uniqueName('main'), {
      VisibilityTimeout: '1',
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: 2 }),
    });
    await sqs.send(new SendMessageCommand({ QueueUrl: main.url, MessageBody: 'poison' }));
    for (let i = 1; i <= 2; i++) {
      const [message] = await receive(main.url, 5);
      expect(message?.Attributes?.ApproximateReceiveCount).toBe(String(i));
      // Not deleted: it becomes visible again and its receive count grows.
      await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: main.url, ReceiptHandle: message!.ReceiptHandle!, VisibilityTimeout: 0 }));
    }
    expect(await receive(main.url, 1)).toEqual([]);
    const dead = await receive(dlq.url, 2);
    expect(dead.map((m) => m.Body)).toEqual(['poison']);
  });

  it('hides a message for the visibility timeout set by ChangeMessageVisibility', async () => {
    const queue = await createQueue(uniqueName('vis'), { VisibilityTimeout: '30' });
    await sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'm' }));
    const [message] = await receive(queue.url);
    expect(await receive(queue.url, 0)).toEqual([]);
    await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queue.url, ReceiptHandle: message!.ReceiptHandle!, VisibilityTimeout: 1 }));
    const again = await receive(queue.url, 3);
    expect(again.map((m) => m.Body)).toEqual(['m']);
  });

  it('long-polls: a receive waits for a message sent while it waits', async () => {
    const queue = await createQueue(uniqueName('long'));
    const started = Date.now();
    const pending = receive(queue.url, 10);
    setTimeout(() => void sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'late' })), 1_000);
    const messages = await pending;
    const waited = Date.now() - started;
    expect(messages.map((m) => m.Body)).toEqual(['late']);
    expect(waited).toBeGreaterThanOrEqual(900);
    expect(waited).toBeLessThan(9_000);
  });

  it('reports ApproximateNumberOfMessages, NotVisible and Delayed', async () => {
    const queue = await createQueue(uniqueName('depth'));
    for (let i = 0; i < 3; i++) await sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: `v${i}` }));
    await sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'later', DelaySeconds: 60 }));
    await receive(queue.url, 0, 1);
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queue.url,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
      }),
    );
    expect(Attributes).toMatchObject({
      ApproximateNumberOfMessages: '2',
      ApproximateNumberOfMessagesNotVisible: '1',
      ApproximateNumberOfMessagesDelayed: '1',
    });
  });

  it('stores an S3 object and serves it through a presigned GET URL', async () => {
    const bucket = uniqueName('results').toLowerCase().replace(/_/g, '-');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const body = JSON.stringify({ rows: Array.from({ length: 100 }, (_, i) => i) });
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'jobs/1/result.json', Body: body, ContentType: 'application/json' }));
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: 'jobs/1/result.json' }), { expiresIn: 60 });
    expect(url).toMatch(/X-Amz-Signature=/);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(body);
  });
});

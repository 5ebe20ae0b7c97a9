import { GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageBatchCommand, type Message } from '@aws-sdk/client-sqs';
import { createSqsClient } from '@conveyor/platform';
import { topology } from '@conveyor/jobs';
import { describe, expect, it } from 'vitest';
import { awsOptions } from '../../../test/support/infra.js';
import { SqsJobQueue } from '../src/queue.consumer.js';
import { createPoolQueues, uniqueNamespace } from './support.js';

describe('SqsJobQueue against the SNS/SQS emulator', () => {
  it('deletes messages that finish together in shared batches of at most ten', async () => {
    const sqs = createSqsClient(awsOptions);
    const t = topology(uniqueNamespace('queue'));
    const { queueUrl } = await createPoolQueues(sqs, t);
    for (let i = 0; i < 25; i += 10) {
      const entries = Array.from({ length: Math.min(10, 25 - i) }, (_, k) => ({ Id: String(k), MessageBody: `m-${i + k}` }));
      await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
    }
    const received: Message[] = [];
    while (received.length < 25) {
      const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      received.push(...Messages);
    }
    const calls: number[] = [];
    sqs.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'DeleteMessageBatchCommand') calls.push((args.input as { Entries: unknown[] }).Entries.length);
        return next(args);
      },
      { step: 'initialize' },
    );
    const pool = t.queues.find((q) => q.pool.name === 'default')!;
    const queue = new SqsJobQueue(sqs, { queue: pool.queue, deadLetterQueue: pool.deadLetterQueue });

    await Promise.all(received.map((m) => queue.remove(m)));

    expect(calls.reduce((a, b) => a + b, 0)).toBe(25);
    expect(Math.max(...calls)).toBeLessThanOrEqual(10);
    expect(calls.length).toBeLessThan(25);
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
    );
    expect(Attributes).toMatchObject({ ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0' });
  });
});

import { GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageBatchCommand, type Message } from '@aws-sdk/client-sqs';
import { createSqsClient } from '@conveyor/platform';
import { topology } from '@conveyor/jobs';
import { describe, expect, it } from 'vitest';
import { awsOptions } from '../../../test/support/infra.js';
import { SqsJobQueue } from '../src/queue.consumer.js';
import { createClassQueues, createPoolQueues, queueDepth, uniqueNamespace } from './support.js';

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

  it('reads the class queues in weighted order, long-polls them all when empty, and acknowledges each message on its own queue', async () => {
    const sqs = createSqsClient(awsOptions);
    const t = topology(uniqueNamespace('classes'));
    const { classUrls } = await createClassQueues(sqs, t);
    const names = t.queues.find((q) => q.pool.name === 'default')!;
    const queue = new SqsJobQueue(sqs, names);
    const send = async (priority: 'high' | 'normal' | 'low', n: number) => {
      for (let i = 0; i < n; i += 10) {
        const entries = Array.from({ length: Math.min(10, n - i) }, (_, k) => ({ Id: String(k), MessageBody: `${priority}-${i + k}` }));
        await sqs.send(new SendMessageBatchCommand({ QueueUrl: classUrls[priority], Entries: entries }));
      }
    };
    await Promise.all([send('high', 20), send('normal', 20), send('low', 20)]);

    // Every class backlogged: ten receives of one message each go 7 high, 2 normal, 1 low, high first.
    const taken: Message[] = [];
    for (let i = 0; i < 10; i++) taken.push(...(await queue.receive(1, 1)));
    const classes = taken.map((m) => m.Body!.split('-')[0]);
    expect(classes[0]).toBe('high');
    expect(classes.filter((c) => c === 'high')).toHaveLength(7);
    expect(classes.filter((c) => c === 'normal')).toHaveLength(2);
    expect(classes.filter((c) => c === 'low')).toHaveLength(1);

    // A message goes back to, and is deleted from, the queue it came from.
    const low = taken.find((m) => m.Body!.startsWith('low'))!;
    await queue.setVisibility(low, 0);
    expect(await queueDepth(sqs, classUrls.low)).toEqual({ visible: 20, inFlight: 0 });
    await Promise.all(taken.filter((m) => m !== low).map((m) => queue.remove(m)));
    expect(await queueDepth(sqs, classUrls.high)).toEqual({ visible: 13, inFlight: 0 });
    expect(await queueDepth(sqs, classUrls.normal)).toEqual({ visible: 18, inFlight: 0 });

    // Drain the rest, then: with every queue empty, work of any class is received as it arrives,
    // not after the long poll of another class ends.
    for (;;) {
      const rest = await queue.receive(10, 0);
      if (rest.length === 0) break;
      await Promise.all(rest.map((m) => queue.remove(m)));
    }
    const started = Date.now();
    const waiting = queue.receive(10, 5);
    await new Promise((r) => setTimeout(r, 300));
    await send('low', 1);
    expect((await waiting).map((m) => m.Body)).toEqual(['low-0']);
    expect(Date.now() - started).toBeLessThan(3_000);
    // The high and normal long polls are still open: a high job sent now comes from them, at the next receive.
    await send('high', 1);
    const next = await queue.receive(10, 5);
    expect(next.map((m) => m.Body)).toEqual(['high-0']);
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(await queue.settleBuffered()).toEqual([]);
    sqs.destroy();
  });
});

describe('SqsJobQueue.requeue: a held job\'s message sent again, later, with a fresh receive count', () => {
  it('sends a copy with its attributes and the given ones to the queue it came from, delayed, and deletes the original', async () => {
    const sqs = createSqsClient(awsOptions);
    const t = topology(uniqueNamespace('requeue'));
    const { classUrls } = await createClassQueues(sqs, t);
    const queue = new SqsJobQueue(sqs, t.queues.find((q) => q.pool.name === 'default')!);
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: classUrls.high,
        Entries: [{ Id: '0', MessageBody: 'held', MessageAttributes: { type: { DataType: 'String', StringValue: 'noop' } } }],
      }),
    );
    const [message] = await queue.receive(1, 1);
    expect(message!.Body).toBe('held');

    await queue.requeue(message!, 2, { 'conveyor-limit-waits': '1' });
    // Gone from sight now, back on the same class queue after the delay, received afresh.
    expect(await queueDepth(sqs, classUrls.high)).toEqual({ visible: 0, inFlight: 0 });
    const started = Date.now();
    let again: Message[] = [];
    while (again.length === 0 && Date.now() - started < 10_000) {
      ({ Messages: again = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: classUrls.high, WaitTimeSeconds: 1, MessageAttributeNames: ['All'], MessageSystemAttributeNames: ['ApproximateReceiveCount'] }),
      ));
    }
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_500);
    expect(again[0]!.Body).toBe('held');
    expect(again[0]!.MessageAttributes).toMatchObject({ type: { StringValue: 'noop' }, 'conveyor-limit-waits': { StringValue: '1' } });
    expect(again[0]!.Attributes?.ApproximateReceiveCount).toBe('1');
  });
});

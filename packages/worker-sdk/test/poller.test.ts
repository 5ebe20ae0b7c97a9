import { GetQueueAttributesCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { createLogger, createSqsClient, Registry, toMessageAttributes } from '@conveyor/platform';
import { topology } from '@conveyor/jobs';
import { afterAll, describe, expect, it } from 'vitest';
import { awsOptions } from '../../../test/support/infra.js';
import { createWorkerMetrics } from '../src/metrics.js';
import { Poller } from '../src/poller.js';
import { PoolPause } from '../src/pool-pause.js';
import { SqsJobQueue, type Message } from '../src/queue.consumer.js';
import { createPoolQueues, uniqueNamespace, waitFor } from './support.js';

const logger = createLogger({ service: 'poller-test', level: process.env.TEST_LOG ? 'debug' : 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Poller against the SNS/SQS emulator: delayed jobs received ahead of their run time', () => {
  const sqs = createSqsClient(awsOptions);
  afterAll(() => sqs.destroy());

  async function setUp(options: { concurrency: number; maxHeld: number; pause?: PoolPause }) {
    const t = topology(uniqueNamespace('poller'));
    const { queueUrl } = await createPoolQueues(sqs, t);
    const pool = t.queues.find((q) => q.pool.name === 'default')!;
    const queue = new SqsJobQueue(sqs, { queue: pool.queue, deadLetterQueue: pool.deadLetterQueue });
    const send = (body: string, runAt?: Date) =>
      sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body, MessageAttributes: toMessageAttributes({ runAt: runAt?.toISOString() }, 'noop') }));
    const started = new Map<string, number>();
    const metrics = createWorkerMetrics(new Registry(), options.concurrency);
    let finishBlocker: () => void = () => undefined;
    const poller = new Poller(
      {
        queue,
        metrics,
        logger,
        pause: options.pause,
        handle: async (message: Message) => {
          started.set(message.Body!, Date.now());
          // 'blocker' keeps its slot until the test lets go.
          if (message.Body === 'blocker') await new Promise<void>((resolve) => (finishBlocker = resolve));
          await queue.remove(message);
        },
      },
      { concurrency: options.concurrency, waitSeconds: 1, drainMs: 2_000, maxHoldMs: 30_000, maxHeld: options.maxHeld },
    );
    const depth = async () => {
      const { Attributes } = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
      );
      return { visible: Number(Attributes!.ApproximateNumberOfMessages), inFlight: Number(Attributes!.ApproximateNumberOfMessagesNotVisible) };
    };
    let heldNow = 0;
    const held = async () => (heldNow = (await metrics.held.get()).values[0]?.value ?? 0);
    const waitHeld = async (n: number) => {
      const deadline = Date.now() + 3_000;
      while ((await held()) !== n) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} held messages (${heldNow} held)`);
        await sleep(20);
      }
    };
    return { poller, send, started, waitHeld, depth, release: () => finishBlocker() };
  }

  it('holds early messages without a slot, starts each at its run time, and still runs what is due meanwhile', async () => {
    const { poller, send, started, waitHeld } = await setUp({ concurrency: 1, maxHeld: 100 });
    const runAt = new Date(Date.now() + 2_500);
    for (let i = 0; i < 5; i++) await send(`delayed-${i}`, runAt);
    poller.start();
    try {
      await waitHeld(5);
      // The single slot is free while five messages wait: a job due now runs at once.
      await send('immediate');
      await waitFor('the immediate job', async () => started.has('immediate'), 2_000);
      expect(started.get('immediate')!).toBeLessThan(runAt.getTime());
      expect([...started.keys()].filter((k) => k.startsWith('delayed'))).toEqual([]);

      await waitFor('the delayed jobs', async () => started.size === 6, 5_000);
      for (let i = 0; i < 5; i++) expect(started.get(`delayed-${i}`)!).toBeGreaterThanOrEqual(runAt.getTime());
      // One slot: they ran one after another as soon as their time came.
      expect(Math.max(...[...started.entries()].filter(([k]) => k.startsWith('delayed')).map(([, t]) => t)) - runAt.getTime()).toBeLessThan(1_000);
    } finally {
      await poller.stop();
    }
  });

  it('a message whose time comes while every slot is busy runs before new receives; stop returns held messages', async () => {
    const { poller, send, started, waitHeld, depth, release } = await setUp({ concurrency: 1, maxHeld: 100 });
    const runAt = new Date(Date.now() + 1_500);
    await send('due-soon', runAt);
    poller.start();
    await waitHeld(1);
    await send('blocker');
    await waitFor('the blocker', async () => started.has('blocker'), 3_000);
    await send('fresh');
    await sleep(Math.max(0, runAt.getTime() - Date.now()) + 300);
    // Due, but the only slot is taken; the poller does not receive either.
    expect(started.has('due-soon')).toBe(false);
    release();
    await waitFor('the due and the fresh message', async () => started.has('due-soon') && started.has('fresh'), 5_000);
    expect(started.get('due-soon')!).toBeLessThanOrEqual(started.get('fresh')!);

    const later = new Date(Date.now() + 20_000);
    await send('due-later', later);
    await waitHeld(1);
    await poller.stop();
    expect(started.has('due-later')).toBe(false);
    await waitHeld(0);
    // Returned at once (visibility 0), not after the 60 s visibility timeout.
    expect(await depth()).toEqual({ visible: 1, inFlight: 0 });
  });

  it('with holding off (maxHeld 0), an early message starts at once: its claim is what defers it', async () => {
    const { poller, send, started } = await setUp({ concurrency: 2, maxHeld: 0 });
    const runAt = new Date(Date.now() + 10_000);
    await send('early', runAt);
    poller.start();
    try {
      await waitFor('the early message', async () => started.has('early'), 3_000);
      expect(started.get('early')!).toBeLessThan(runAt.getTime());
    } finally {
      await poller.stop();
    }
  });

  it('while its pool is paused receives nothing and hands back held messages; after the resume everything runs once', async () => {
    const gate = new PoolPause();
    const { poller, send, started, waitHeld, depth } = await setUp({ concurrency: 4, maxHeld: 100, pause: gate });
    const runAt = new Date(Date.now() + 3_000);
    await send('delayed', runAt);
    poller.start();
    try {
      await waitHeld(1);
      gate.set(true);
      await waitHeld(0);
      for (let i = 0; i < 3; i++) await send(`while-paused-${i}`);
      // Longer than a long poll (1 s here) and past the delayed message's run time.
      await sleep(Math.max(0, runAt.getTime() - Date.now()) + 1_500);
      expect([...started.keys()]).toEqual([]);
      // Visible and unreceived: a long pause adds nothing to their receive counts.
      await waitFor('the held messages visible', async () => JSON.stringify(await depth()) === JSON.stringify({ visible: 4, inFlight: 0 }), 3_000);

      gate.set(false);
      await waitFor('every message', async () => started.size === 4, 5_000);
      expect([...started.keys()].sort()).toEqual(['delayed', 'while-paused-0', 'while-paused-1', 'while-paused-2']);
    } finally {
      await poller.stop();
    }
  });
});

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateQueueCommand, DeleteQueueCommand, ReceiveMessageCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { createSqsClient } from '@conveyor/platform';
import { sweepDeadLetters } from '@conveyor/jobs';
import { awsOptions, uniqueName } from '../../../test/support/infra.js';
import { queueCensus } from '../../../test/support/queue-census.js';

/**
 * A redrive's sweep against the SQS emulator, stopped midway as a killed process would be: it has
 * deleted only messages of requeued jobs, every message of a job still dead is there (once its
 * visibility ends), and a second sweep finishes the work, leaving each dead job's message once.
 */
describe('sweepDeadLetters against the SQS emulator', () => {
  const sqs = createSqsClient(awsOptions);
  const queue = uniqueName('dlq-sweep').replaceAll('_', '-');
  let url = '';
  const jobs: string[] = Array.from({ length: 25 }, () => randomUUID());
  const requeued = new Set(jobs.slice(0, 15));
  const stillDead = jobs.slice(15);
  const notDead = async (ids: readonly string[]) => new Set(ids.filter((id) => requeued.has(id)));

  const census = () => queueCensus(sqs, url);

  beforeAll(async () => {
    url = (await sqs.send(new CreateQueueCommand({ QueueName: queue }))).QueueUrl!;
    const bodies = jobs.map((jobId) => JSON.stringify({ v: 1, jobId, type: 'noop', tenant: 't', payload: {}, createdAt: new Date().toISOString() }));
    bodies.push('not a job');
    for (let i = 0; i < bodies.length; i += 10) {
      await sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: bodies.slice(i, i + 10).map((MessageBody, j) => ({ Id: String(j), MessageBody })) }));
    }
  });
  afterAll(async () => {
    await sqs.send(new DeleteQueueCommand({ QueueUrl: url })).catch(() => undefined);
    sqs.destroy();
  });

  it('stopped midway deletes only requeued jobs\' messages and loses none; the next sweep finishes', async () => {
    let calls = 0;
    const crashing = async (ids: readonly string[]) => {
      calls += 1;
      if (calls === 2) throw new Error('killed');
      return notDead(ids);
    };
    await expect(sweepDeadLetters(sqs, queue, { notDead: crashing, visibilitySeconds: 2 })).rejects.toThrow('killed');
    // What the stopped sweep had received comes back when its visibility ends.
    await new Promise((r) => setTimeout(r, 2500));
    const afterCrash = await census();
    for (const id of [...stillDead, '?']) expect(afterCrash.filter((x) => x === id), id).toHaveLength(1);
    expect(afterCrash.length).toBeGreaterThan(stillDead.length + 1);

    const done = await sweepDeadLetters(sqs, queue, { notDead, visibilitySeconds: 10 });
    expect(done).toMatchObject({ complete: true, inFlight: 0 });
    // Each dead job's message once, and the message that is not a job, left for a person to look at.
    expect(await census()).toEqual(['?', ...stillDead].sort());
  });

  it('says so when another sweep (a killed one) still hides messages: they are not swept yet', async () => {
    const late = Array.from({ length: 3 }, () => randomUUID());
    for (const id of late) requeued.add(id);
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: url,
        Entries: late.map((jobId, j) => ({ Id: String(j), MessageBody: JSON.stringify({ v: 1, jobId, type: 'noop', tenant: 't', payload: {}, createdAt: new Date().toISOString() }) })),
      }),
    );
    // The killed sweep's receive: its messages stay hidden until their visibility ends.
    let hidden = 0;
    while (hidden === 0) {
      const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 2 }));
      hidden = Messages.length;
    }
    const swept = await sweepDeadLetters(sqs, queue, { notDead, visibilitySeconds: 10 });
    expect(swept.complete).toBe(true);
    expect(swept.inFlight).toBe(hidden);
    await new Promise((r) => setTimeout(r, 2500));
    expect(await sweepDeadLetters(sqs, queue, { notDead, visibilitySeconds: 10 })).toMatchObject({ complete: true, inFlight: 0 });
    expect(await census()).toEqual(['?', ...stillDead].sort());
  });
});

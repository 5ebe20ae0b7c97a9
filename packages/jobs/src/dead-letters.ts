import { ChangeMessageVisibilityBatchCommand, DeleteMessageBatchCommand, GetQueueAttributesCommand, GetQueueUrlCommand, QueueDoesNotExist, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { parseEnvelope } from '@conveyor/platform';

/** A queue's URL by name; undefined when it does not exist (not provisioned, or deleted). */
export async function queueUrl(sqs: SQSClient, queueName: string): Promise<string | undefined> {
  try {
    return (await sqs.send(new GetQueueUrlCommand({ QueueName: queueName }))).QueueUrl;
  } catch (error) {
    if (error instanceof QueueDoesNotExist) return undefined;
    throw error;
  }
}

export interface SweepResult {
  received: number;
  deleted: number;
  /** Every receive ended empty before the deadline: no visible message was left unread. */
  complete: boolean;
  /**
   * Messages hidden from this sweep when it ended: received by another sweep, running or killed
   * midway, and back when their visibility ends; the next sweep handles them.
   */
  inFlight: number;
}

export interface SweepOptions {
  /** Of the job ids given, those whose job is no longer dead (requeued, or ended otherwise). */
  notDead: (jobIds: readonly string[]) => Promise<Set<string>>;
  /** How long received messages stay hidden: longer than the sweep may take (its deadline and 10 s by default). */
  visibilitySeconds?: number;
  deadlineMs?: number;
}

/**
 * Deletes from a dead-letter queue the messages whose job is no longer dead, and only those: a
 * redrive requeues jobs in Postgres first (their next attempt travels in a fresh message, the way
 * every retry does), then sweeps their old messages away. A sweep killed midway therefore loses
 * nothing (a message is deleted only once its job was requeued and committed) and duplicates
 * nothing (a message left behind belongs to a job that is running again; no worker reads a DLQ,
 * and the claim refuses a job that is not waiting). The next sweep removes what is left. Messages
 * kept, or not readable as a job, are handed back at once.
 */
export async function sweepDeadLetters(sqs: SQSClient, queueName: string, options: SweepOptions): Promise<SweepResult> {
  const url = await queueUrl(sqs, queueName);
  if (!url) return { received: 0, deleted: 0, complete: true, inFlight: 0 };
  const deadlineMs = options.deadlineMs ?? 20_000;
  const deadline = Date.now() + deadlineMs;
  // Only as long as the sweep may last: what a killed sweep hid is back for the next one soon.
  const visibilitySeconds = options.visibilitySeconds ?? Math.ceil(deadlineMs / 1000) + 10;
  const kept: string[] = [];
  const seen = new Set<string>();
  let received = 0;
  let deleted = 0;
  let complete = false;
  try {
    while (Date.now() < deadline) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: visibilitySeconds, WaitTimeSeconds: 1 }),
      );
      const fresh = Messages.filter((m) => m.ReceiptHandle && m.MessageId && !seen.has(m.MessageId));
      if (fresh.length === 0) {
        complete = true;
        break;
      }
      received += fresh.length;
      const byJob = fresh.map((m) => {
        seen.add(m.MessageId!);
        const parsed = parseEnvelope(m.Body);
        return { handle: m.ReceiptHandle!, jobId: parsed.ok ? parsed.envelope.jobId : undefined };
      });
      const gone = await options.notDead(byJob.flatMap((m) => (m.jobId ? [m.jobId] : [])));
      const remove = byJob.filter((m) => m.jobId !== undefined && gone.has(m.jobId));
      kept.push(...byJob.filter((m) => !remove.includes(m)).map((m) => m.handle));
      if (remove.length > 0) {
        const { Failed = [] } = await sqs.send(
          new DeleteMessageBatchCommand({ QueueUrl: url, Entries: remove.map((m, i) => ({ Id: String(i), ReceiptHandle: m.handle })) }),
        );
        deleted += remove.length - Failed.length;
      }
    }
  } finally {
    for (let i = 0; i < kept.length; i += 10) {
      const entries = kept.slice(i, i + 10).map((ReceiptHandle, j) => ({ Id: String(j), ReceiptHandle, VisibilityTimeout: 0 }));
      // A message not handed back reappears when its visibility ends: late, never lost.
      await sqs.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: url, Entries: entries })).catch(() => undefined);
    }
  }
  return { received, deleted, complete, inFlight: await hiddenMessages(sqs, url) };
}

/** Messages received and neither deleted nor visible again (an approximate count, exact on one node). */
async function hiddenMessages(sqs: SQSClient, url: string): Promise<number> {
  const { Attributes = {} } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessagesNotVisible'] }));
  return Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0);
}

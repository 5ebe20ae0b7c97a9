import {
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type BatchResultErrorEntry,
  type Message,
  type MessageAttributeValue,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import DataLoader from 'dataloader';

export type { Message } from '@aws-sdk/client-sqs';

/** The pool's queue and its DLQ, as the runner needs them. */
export interface JobQueuePort {
  receive(max: number, waitSeconds: number, signal?: AbortSignal): Promise<Message[]>;
  remove(message: Message): Promise<void>;
  /** Deletes without holding the caller: for a message whose job is already settled in Postgres. */
  removeLater(message: Message, onError: (error: unknown) => void): void;
  /** Resolves once every removeLater delete has finished (at shutdown, before closing the client). */
  settled(): Promise<void>;
  setVisibility(message: Message, seconds: number): Promise<void>;
  /** Copies the message (body and attributes) to the DLQ, then deletes the original. */
  deadLetter(message: Message): Promise<void>;
}

/** How long a finished message waits for others to share its DeleteMessageBatch call. */
const DELETE_LINGER_MS = 5;

/**
 * SQS adapter: resolves the queue URLs by name (provisioning created them) and translates calls.
 * Deletes of messages finishing within a few milliseconds of each other share one
 * DeleteMessageBatch call (up to 10): one signed request instead of ten at high throughput.
 */
export class SqsJobQueue implements JobQueuePort {
  private urls: Promise<{ queue: string; dlq: string }> | undefined;
  private readonly pendingDeletes = new Set<Promise<void>>();
  private readonly deletes = new DataLoader<Message, void, Message>((messages) => this.deleteBatch(messages), {
    cache: false,
    maxBatchSize: 10,
    batchScheduleFn: (send) => setTimeout(send, DELETE_LINGER_MS),
  });

  constructor(
    private readonly sqs: SQSClient,
    private readonly names: { queue: string; deadLetterQueue: string },
  ) {}

  /** Resolves both URLs; a failure is not cached, so the next call asks again. */
  resolve(): Promise<{ queue: string; dlq: string }> {
    this.urls ??= Promise.all([this.urlOf(this.names.queue), this.urlOf(this.names.deadLetterQueue)]).then(
      ([queue, dlq]) => ({ queue, dlq }),
      (error: unknown) => {
        this.urls = undefined;
        throw error;
      },
    );
    return this.urls;
  }

  /** Readiness: the queue exists and SQS answers (asked afresh, not from the cached URL). */
  async ping(): Promise<void> {
    await this.urlOf(this.names.queue);
  }

  private async urlOf(name: string): Promise<string> {
    const { QueueUrl } = await this.sqs.send(new GetQueueUrlCommand({ QueueName: name }));
    if (!QueueUrl) throw new Error(`queue ${name} has no URL`);
    return QueueUrl;
  }

  async receive(max: number, waitSeconds: number, signal?: AbortSignal): Promise<Message[]> {
    const { queue } = await this.resolve();
    const { Messages } = await this.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queue,
        MaxNumberOfMessages: Math.min(10, max),
        WaitTimeSeconds: waitSeconds,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['ApproximateReceiveCount'],
      }),
      { abortSignal: signal },
    );
    return Messages ?? [];
  }

  /** Resolves once this message's delete succeeded; a delete SQS refused rejects on its own. */
  remove(message: Message): Promise<void> {
    return this.deletes.load(message);
  }

  removeLater(message: Message, onError: (error: unknown) => void): void {
    const deleting: Promise<void> = this.remove(message)
      .catch(onError)
      .finally(() => this.pendingDeletes.delete(deleting));
    this.pendingDeletes.add(deleting);
  }

  async settled(): Promise<void> {
    await Promise.all([...this.pendingDeletes]);
  }

  private async deleteBatch(messages: readonly Message[]): Promise<Array<void | Error>> {
    const { queue } = await this.resolve();
    const { Failed = [] } = await this.sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queue,
        Entries: messages.map((message, i) => ({ Id: String(i), ReceiptHandle: message.ReceiptHandle })),
      }),
    );
    return deleteOutcomes(messages.length, Failed);
  }

  async setVisibility(message: Message, seconds: number): Promise<void> {
    const { queue } = await this.resolve();
    await this.sqs.send(
      new ChangeMessageVisibilityCommand({ QueueUrl: queue, ReceiptHandle: message.ReceiptHandle, VisibilityTimeout: seconds }),
    );
  }

  async deadLetter(message: Message): Promise<void> {
    const { dlq } = await this.resolve();
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: dlq,
        // SQS refuses an empty body; an empty poison message still deserves a trace in the DLQ.
        MessageBody: message.Body || '(empty message)',
        MessageAttributes: copyAttributes(message.MessageAttributes),
      }),
    );
    await this.remove(message);
  }
}

/** One outcome per batch entry (entry ids are the positions): undefined when deleted, else the reason. */
export function deleteOutcomes(count: number, failed: readonly BatchResultErrorEntry[]): Array<void | Error> {
  const byId = new Map(failed.map((entry) => [entry.Id, entry]));
  return Array.from({ length: count }, (_, i) => {
    const entry = byId.get(String(i));
    return entry ? new Error(`SQS refused to delete the message: ${entry.Code ?? 'error'} ${entry.Message ?? ''}`.trim()) : undefined;
  });
}

function copyAttributes(attributes: Record<string, MessageAttributeValue> | undefined) {
  if (!attributes) return undefined;
  const copy: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of Object.entries(attributes)) {
    if (value.StringValue !== undefined) copy[name] = { DataType: value.DataType, StringValue: value.StringValue };
    else if (value.BinaryValue !== undefined) copy[name] = { DataType: value.DataType, BinaryValue: value.BinaryValue };
  }
  return copy;
}

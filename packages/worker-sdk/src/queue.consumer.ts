import {
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  GetQueueUrlCommand,
  QueueDoesNotExist,
  ReceiveMessageCommand,
  SendMessageCommand,
  type BatchResultErrorEntry,
  type Message,
  type MessageAttributeValue,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import DataLoader from 'dataloader';
import type { PriorityClass } from '@conveyor/platform';
import { ClassReceiver, type ClassQueue } from './class-receiver.js';

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
  /**
   * Sends a copy of the message (body and attributes, plus `attributes` as strings) to the queue
   * it came from, visible after `delaySeconds`, then deletes the original: a fresh receive count.
   */
  requeue(message: Message, delaySeconds: number, attributes?: Record<string, string>): Promise<void>;
  /** Copies the message (body and attributes) to the DLQ, then deletes the original. */
  deadLetter(message: Message): Promise<void>;
  /** Received messages not yet handed out by receive (several class queues): to give back at a pause. */
  takeBuffered?(): Message[];
  /** Waits for receives still open, then hands over what they brought: to give back at a stop. */
  settleBuffered?(): Promise<Message[]>;
}

/** The queue names a worker reads: the pool's class queues (topology.ts's poolQueueNames) and DLQ. */
export interface JobQueueNames {
  /** The normal class's queue, which every pool has. */
  queue: string;
  deadLetterQueue: string;
  /** The pool's queues per priority class; without them (or where one does not exist) only `queue`. */
  classQueues?: Record<PriorityClass, string>;
  /** Each class's overflow lane (docs/design.md, "Fairness between tenants"); one that does not exist is left out. */
  overflowQueues?: Record<PriorityClass, string>;
}

/** What the adapter tells about each SQS call it makes (metrics): the operation and, for a receive, how many messages came. */
export type SqsCallObserver = (operation: 'receive' | 'delete' | 'visibility' | 'send', received?: number) => void;

interface Resolved {
  queues: ClassQueue[];
  dlq: string;
}

/** How long a finished message waits for others to share its DeleteMessageBatch call. */
const DELETE_LINGER_MS = 5;

/**
 * SQS adapter: resolves the queue URLs by name (provisioning created them) and translates calls.
 * It reads the pool's queues of every priority class in weighted order (class-receiver.ts) and
 * remembers which queue each message came from, so its delete and visibility go back there.
 * Deletes of messages finishing within a few milliseconds of each other share one
 * DeleteMessageBatch call (up to 10 of one queue): one signed request instead of ten at high throughput.
 */
export class SqsJobQueue implements JobQueuePort {
  private urls: Promise<Resolved> | undefined;
  /** The queue each received message came from. */
  private readonly origin = new WeakMap<Message, string>();
  private readonly receiver: ClassReceiver;
  private readonly onMissingClassQueue: ((queue: string) => void) | undefined;
  private readonly observe: SqsCallObserver;
  private readonly pendingDeletes = new Set<Promise<void>>();
  private readonly deletes = new DataLoader<Message, void, Message>((messages) => this.deleteBatch(messages), {
    cache: false,
    maxBatchSize: 10,
    batchScheduleFn: (send) => setTimeout(send, DELETE_LINGER_MS),
  });

  constructor(
    private readonly sqs: SQSClient,
    private readonly names: JobQueueNames,
    options: { weights?: Readonly<Record<PriorityClass, number>>; onMissingClassQueue?: (queue: string) => void; observe?: SqsCallObserver } = {},
  ) {
    this.receiver = new ClassReceiver((queue, max, wait, signal) => this.receiveFrom(queue, max, wait, signal), options.weights);
    this.onMissingClassQueue = options.onMissingClassQueue;
    this.observe = options.observe ?? (() => undefined);
  }

  /**
   * Resolves every URL; a failure is not cached, so the next call asks again. The normal queue and
   * the DLQ must exist; a high, low or overflow queue that does not (a team's pool provisioned
   * before classes or lanes) is left out, and its pool's filters still send that work to the
   * queues it has.
   */
  resolve(): Promise<Resolved> {
    this.urls ??= this.resolveAll().catch((error: unknown) => {
      this.urls = undefined;
      throw error;
    });
    return this.urls;
  }

  private async resolveAll(): Promise<Resolved> {
    const wanted: Array<{ priority: PriorityClass; lane: 'regular' | 'overflow'; name: string }> = [
      ...(Object.entries(this.names.classQueues ?? { normal: this.names.queue }) as Array<[PriorityClass, string]>).map(([priority, name]) => ({
        priority,
        lane: 'regular' as const,
        name,
      })),
      ...(Object.entries(this.names.overflowQueues ?? {}) as Array<[PriorityClass, string]>).map(([priority, name]) => ({
        priority,
        lane: 'overflow' as const,
        name,
      })),
    ];
    const [dlq, ...urls] = await Promise.all([
      this.urlOf(this.names.deadLetterQueue),
      ...wanted.map(({ name }) =>
        this.urlOf(name).catch((error: unknown) => {
          if (name === this.names.queue || !(error instanceof QueueDoesNotExist)) throw error;
          this.onMissingClassQueue?.(name);
          return undefined;
        }),
      ),
    ]);
    const queues = wanted.flatMap(({ priority, lane }, i) => (urls[i] ? [{ priority, lane, url: urls[i] }] : []));
    return { queues, dlq: dlq! };
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
    const { queues } = await this.resolve();
    return this.receiver.receive(queues, max, waitSeconds, signal);
  }

  takeBuffered(): Message[] {
    return this.receiver.takeAll();
  }

  settleBuffered(): Promise<Message[]> {
    return this.receiver.settle();
  }

  private async receiveFrom(queue: ClassQueue, max: number, waitSeconds: number, signal?: AbortSignal): Promise<Message[]> {
    const { Messages } = await this.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queue.url,
        MaxNumberOfMessages: Math.min(10, max),
        WaitTimeSeconds: waitSeconds,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['ApproximateReceiveCount'],
      }),
      { abortSignal: signal },
    );
    this.observe('receive', Messages?.length ?? 0);
    for (const message of Messages ?? []) this.origin.set(message, queue.url);
    return Messages ?? [];
  }

  /** The queue a message came from; the normal queue for one this adapter did not receive. */
  private async queueOf(message: Message): Promise<string> {
    const known = this.origin.get(message);
    if (known) return known;
    const { queues } = await this.resolve();
    return queues.find((q) => q.priority === 'normal' && q.lane === 'regular')!.url;
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

  /** One DeleteMessageBatch call per queue among the messages, outcomes in the messages' order. */
  private async deleteBatch(messages: readonly Message[]): Promise<Array<void | Error>> {
    const urls = await Promise.all(messages.map((m) => this.queueOf(m)));
    const outcomes: Array<void | Error> = new Array(messages.length);
    await Promise.all(
      [...new Set(urls)].map(async (url) => {
        const positions = urls.flatMap((u, i) => (u === url ? [i] : []));
        this.observe('delete');
        const { Failed = [] } = await this.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: url,
            Entries: positions.map((p, i) => ({ Id: String(i), ReceiptHandle: messages[p]!.ReceiptHandle })),
          }),
        );
        deleteOutcomes(positions.length, Failed).forEach((outcome, i) => (outcomes[positions[i]!] = outcome));
      }),
    );
    return outcomes;
  }

  async setVisibility(message: Message, seconds: number): Promise<void> {
    this.observe('visibility');
    await this.sqs.send(
      new ChangeMessageVisibilityCommand({ QueueUrl: await this.queueOf(message), ReceiptHandle: message.ReceiptHandle, VisibilityTimeout: seconds }),
    );
  }

  async requeue(message: Message, delaySeconds: number, attributes: Record<string, string> = {}): Promise<void> {
    const copied = copyAttributes(message.MessageAttributes) ?? {};
    for (const [name, value] of Object.entries(attributes)) copied[name] = { DataType: 'String', StringValue: value };
    this.observe('send');
    await this.sqs.send(
      new SendMessageCommand({ QueueUrl: await this.queueOf(message), MessageBody: message.Body || '(empty message)', MessageAttributes: copied, DelaySeconds: delaySeconds }),
    );
    await this.remove(message);
  }

  async deadLetter(message: Message): Promise<void> {
    const { dlq } = await this.resolve();
    this.observe('send');
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

import { ChangeMessageVisibilityBatchCommand, GetQueueUrlCommand, ReceiveMessageCommand, QueueDoesNotExist, type SQSClient } from '@aws-sdk/client-sqs';
import { parseEnvelope, readQueueDepth, type Logger, type QueueDepth } from '@conveyor/platform';

export interface QueueScan {
  /** Job ids of the messages received. */
  jobIds: Set<string>;
  received: number;
  /** Every receive loop ended on an empty receive: no visible message was left unread. */
  complete: boolean;
}

export interface ScanOptions {
  /** How long received messages stay hidden: longer than the scan may take. */
  visibilitySeconds: number;
  /** The scan gives up (incomplete) after this long. */
  deadlineMs: number;
  signal?: AbortSignal;
}

/** What the reconciler reads of a pool's queue: its depth, and the job ids of its visible messages. */
export interface QueueCensus {
  /** Undefined when the queue does not exist (not provisioned yet, or deleted). */
  depth(queue: string): Promise<QueueDepth | undefined>;
  scan(queue: string, options: ScanOptions): Promise<QueueScan>;
}

const PARALLEL_RECEIVES = 8;

/**
 * SQS cannot look a message up by id, so the only way to know which jobs have a message in a
 * queue is to receive them. A scan receives every visible message, hiding each for the scan
 * (which adds one to its receive count: scans must stay rare), reads the job id from its body,
 * and hands every message back at once at the end (visibility 0), complete or not.
 */
export function sqsQueueCensus(sqs: SQSClient, logger: Logger): QueueCensus {
  const urls = new Map<string, string>();
  const urlOf = async (queue: string): Promise<string | undefined> => {
    const known = urls.get(queue);
    if (known) return known;
    try {
      const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: queue }));
      if (QueueUrl) urls.set(queue, QueueUrl);
      return QueueUrl;
    } catch (error) {
      if (error instanceof QueueDoesNotExist) return undefined;
      throw error;
    }
  };

  const release = async (url: string, handles: string[]): Promise<number> => {
    let failed = 0;
    const chunks: string[][] = [];
    for (let i = 0; i < handles.length; i += 10) chunks.push(handles.slice(i, i + 10));
    const next = async (): Promise<void> => {
      for (let chunk = chunks.shift(); chunk; chunk = chunks.shift()) {
        try {
          const entries = chunk.map((ReceiptHandle, i) => ({ Id: String(i), ReceiptHandle, VisibilityTimeout: 0 }));
          const { Failed = [] } = await sqs.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: url, Entries: entries }));
          failed += Failed.length;
        } catch {
          failed += chunk.length;
        }
      }
    };
    await Promise.all(Array.from({ length: PARALLEL_RECEIVES }, next));
    return failed;
  };

  return {
    async depth(queue) {
      const url = await urlOf(queue);
      if (!url) return undefined;
      try {
        return await readQueueDepth(sqs, url);
      } catch (error) {
        if (!(error instanceof QueueDoesNotExist)) throw error;
        urls.delete(queue);
        return undefined;
      }
    },

    async scan(queue, { visibilitySeconds, deadlineMs, signal }) {
      const url = await urlOf(queue);
      if (!url) return { jobIds: new Set(), received: 0, complete: false };
      const deadline = Date.now() + deadlineMs;
      const jobIds = new Set<string>();
      const handles: string[] = [];
      let cutShort = false;
      const receiveUntilEmpty = async (): Promise<void> => {
        for (;;) {
          if (signal?.aborted || Date.now() > deadline) {
            cutShort = true;
            return;
          }
          const { Messages = [] } = await sqs.send(
            // A 1 s wait asks every SQS server, so an empty answer means nothing is visible.
            new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: visibilitySeconds, WaitTimeSeconds: 1 }),
          );
          if (Messages.length === 0) return;
          for (const message of Messages) {
            if (message.ReceiptHandle) handles.push(message.ReceiptHandle);
            const parsed = parseEnvelope(message.Body);
            if (parsed.ok) jobIds.add(parsed.envelope.jobId);
          }
        }
      };
      try {
        await Promise.all(Array.from({ length: PARALLEL_RECEIVES }, receiveUntilEmpty));
      } catch (error) {
        cutShort = true;
        logger.warn({ err: error, queue }, 'scanning the queue failed');
      } finally {
        const failed = await release(url, handles);
        if (failed > 0) logger.warn({ queue, failed }, 'could not hand some scanned messages back; they reappear when their visibility ends');
      }
      return { jobIds, received: handles.length, complete: !cutShort };
    },
  };
}

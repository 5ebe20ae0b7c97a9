import { ChangeMessageVisibilityBatchCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { parseEnvelope } from '@conveyor/platform';

/**
 * The job id of every message now visible in a queue, sorted (a job twice if it has two messages;
 * `?` for a message that is not a job); each message is handed back at the end.
 */
export async function queueCensus(sqs: SQSClient, url: string): Promise<string[]> {
  const ids: string[] = [];
  const handles: string[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 20, WaitTimeSeconds: 1 }));
    if (Messages.length === 0) break;
    for (const m of Messages) {
      handles.push(m.ReceiptHandle!);
      const parsed = parseEnvelope(m.Body);
      ids.push(parsed.ok ? parsed.envelope.jobId : '?');
    }
  }
  for (let i = 0; i < handles.length; i += 10) {
    const entries = handles.slice(i, i + 10).map((ReceiptHandle, j) => ({ Id: String(j), ReceiptHandle, VisibilityTimeout: 0 }));
    await sqs.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: url, Entries: entries }));
  }
  return ids.sort();
}

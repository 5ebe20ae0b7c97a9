import { GetTopicAttributesCommand, ListTopicsCommand, PublishBatchCommand, type PublishBatchRequestEntry, type SNSClient } from '@aws-sdk/client-sns';
import type { EntryFailure } from './publish.js';

/** Finds a topic's ARN by name, so config needs only the namespace, not an account id. */
async function findTopicArn(sns: SNSClient, name: string): Promise<string> {
  let token: string | undefined;
  do {
    const page = await sns.send(new ListTopicsCommand({ NextToken: token }));
    const match = page.Topics?.find((t) => t.TopicArn?.endsWith(`:${name}`));
    if (match?.TopicArn) return match.TopicArn;
    token = page.NextToken;
  } while (token);
  throw new Error(`SNS topic "${name}" does not exist; run the provisioning step (conveyor-provision)`);
}

export interface SnsPublisher {
  topicArn(): Promise<string>;
  /** Readiness: SNS answers and the topic is there. */
  check(): Promise<void>;
  publishBatch(entries: PublishBatchRequestEntry[]): Promise<EntryFailure[]>;
}

export function snsPublisher(sns: SNSClient, topicName: string): SnsPublisher {
  let arn: Promise<string> | undefined;
  const topicArn = () => {
    arn ??= findTopicArn(sns, topicName).catch((error: unknown) => {
      arn = undefined;
      throw error;
    });
    return arn;
  };
  return {
    topicArn,
    check: async () => {
      await sns.send(new GetTopicAttributesCommand({ TopicArn: await topicArn() }));
    },
    publishBatch: async (entries) => {
      const result = await sns.send(new PublishBatchCommand({ TopicArn: await topicArn(), PublishBatchRequestEntries: entries }));
      return (result.Failed ?? []).map((f) => ({
        id: f.Id ?? '',
        code: f.Code ?? 'unknown',
        message: f.Message ?? '',
        senderFault: f.SenderFault ?? false,
      }));
    },
  };
}

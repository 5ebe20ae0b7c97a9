import type { PublishBatchRequestEntry } from '@aws-sdk/client-sns';
import { fromKafkaHeaders, parseEnvelope, toMessageAttributes, type KafkaMessage } from '@conveyor/platform';
import { DEFAULT_PRIORITY, poolOf } from '@conveyor/jobs';

/** Where a record came from, for SNS entry ids, rejected events and logs. */
export interface RecordRef {
  topic: string;
  partition: number;
  offset: string;
}

export type Classified =
  | { kind: 'publish'; ref: RecordRef; jobId: string; entry: PublishBatchRequestEntry }
  | { kind: 'reject'; ref: RecordRef; jobId: string | null; reason: string };

/** SNS batch entry ids: unique within a call, letters, digits, hyphens and underscores only. */
export function entryId(ref: RecordRef): string {
  return `${ref.partition}-${ref.offset}`;
}

/** Best effort: a record that is not a valid envelope may still name its job. */
function readableJobId(value: Buffer | null): string | null {
  try {
    const parsed: unknown = JSON.parse(value?.toString() ?? '');
    const jobId = (parsed as { jobId?: unknown } | null)?.jobId;
    return typeof jobId === 'string' && jobId.length > 0 && jobId.length <= 128 ? jobId : null;
  } catch {
    return null;
  }
}

/** Turns one Kafka record into an SNS entry (body unchanged) or a reason to set it aside. */
export function classify(ref: RecordRef, message: Pick<KafkaMessage, 'value' | 'headers'>): Classified {
  const parsed = parseEnvelope(message.value);
  if (!parsed.ok) return { kind: 'reject', ref, jobId: readableJobId(message.value), reason: parsed.error };
  return {
    kind: 'publish',
    ref,
    jobId: parsed.envelope.jobId,
    entry: {
      Id: entryId(ref),
      Message: message.value!.toString(),
      // SNS routes on `pool` and `priority`; a record written before the registry has no pool and
      // routes as it did then, one written before priority classes is `normal`. The attribute is
      // always set, so every message matches exactly one class queue's filter.
      MessageAttributes: toMessageAttributes(
        fromKafkaHeaders(message.headers),
        parsed.envelope.type,
        parsed.envelope.pool ?? poolOf(parsed.envelope.type)?.name,
        parsed.envelope.priority ?? DEFAULT_PRIORITY,
        // Only `overflow` is ever set: the regular lane's filter takes what has no `lane`.
        parsed.envelope.lane,
      ),
    },
  };
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

import type { Admin, Kafka } from '@conveyor/platform';

export interface PartitionEnd {
  /** Set when the offsets span several topics (a lane each): partitions are told apart by topic too. */
  topic?: string;
  partition: number;
  /** Offset the next record will get. */
  high: string;
  /** Oldest offset still kept. */
  low: string;
}

export interface CommittedOffset {
  topic?: string;
  partition: number;
  /** Next offset the group will read; -1 when it never committed. */
  offset: string;
}

/** The offsets the watermark needs: the topic's ends and what the bridge's group committed. */
export interface TopicOffsets {
  ends(): Promise<PartitionEnd[]>;
  committed(): Promise<CommittedOffset[]>;
}

/** End offsets of jobs.requested (and its overflow lane's topic) read at `at` (database clock). */
export interface OffsetSample {
  at: Date;
  ends: PartitionEnd[];
}

/**
 * Whether the bridge has handed every record of the sample to SNS: it commits a partition's offset
 * only past records SNS accepted, so a commit at or past a partition's sampled end covers it. A
 * partition whose oldest kept record is past that end has nothing of the sample left to hand over.
 */
export function handedOff(sample: OffsetSample, committed: readonly CommittedOffset[], ends: readonly PartitionEnd[]): boolean {
  const same = (a: { topic?: string; partition: number }, b: { topic?: string; partition: number }) => a.partition === b.partition && a.topic === b.topic;
  return sample.ends.every((end) => {
    const { high } = end;
    const offset = BigInt(committed.find((c) => same(c, end))?.offset ?? '-1');
    const low = BigInt(ends.find((e) => same(e, end))?.low ?? '0');
    const reached = offset > low ? offset : low;
    return reached >= BigInt(high);
  });
}

/**
 * The latest database time before which every job the relay published to Kafka has been accepted
 * by SNS. Each call checks the pending sample of end offsets against the bridge's commits and,
 * once they passed it, makes its time the watermark and takes a new sample. While the bridge is
 * down or behind, the watermark stays where it was: jobs still in Kafka are never taken for lost.
 * A job marked published at time p was produced before p plus one relay round (a few seconds),
 * so callers compare published_at with the watermark minus a margin longer than that.
 */
export class HandoffWatermark {
  private pending: OffsetSample | undefined;
  private watermark: Date | undefined;

  constructor(
    private readonly offsets: TopicOffsets,
    private readonly databaseNow: () => Promise<Date>,
  ) {}

  async advance(): Promise<Date | undefined> {
    if (this.pending) {
      const [committed, ends] = await Promise.all([this.offsets.committed(), this.offsets.ends()]);
      if (handedOff(this.pending, committed, ends)) {
        this.watermark = this.pending.at;
        this.pending = undefined;
      }
    }
    if (!this.pending) {
      // The time first: every record published before it is below the ends read after it.
      const at = await this.databaseNow();
      this.pending = { at, ends: await this.offsets.ends() };
    }
    return this.watermark;
  }
}

/**
 * kafkajs admin calls for topics each read by its own consumer group (jobs.requested and its
 * overflow lane's topic, read by the bridge's two groups); connects on first use, again after a
 * failure. Every offset names its topic.
 */
export function kafkaTopicOffsets(kafka: Kafka, lanes: ReadonlyArray<{ topic: string; groupId: string }>): TopicOffsets & { close(): Promise<void> } {
  // Few retries: a pass waiting on a sick broker would hold up the leader's handover at shutdown;
  // the next pass asks again anyway.
  const admin: Admin = kafka.admin({ retry: { retries: 1, initialRetryTime: 200, maxRetryTime: 1_000 } });
  let connected: Promise<void> | undefined;
  const call = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      await (connected ??= admin.connect());
      return await fn();
    } catch (error) {
      connected = undefined;
      throw error;
    }
  };
  return {
    ends: () =>
      call(async () => (await Promise.all(lanes.map(async ({ topic }) => (await admin.fetchTopicOffsets(topic)).map((end) => ({ ...end, topic }))))).flat()),
    committed: () =>
      call(async () =>
        (
          await Promise.all(
            lanes.map(async ({ topic, groupId }) => ((await admin.fetchOffsets({ groupId, topics: [topic] }))[0]?.partitions ?? []).map((c) => ({ ...c, topic }))),
          )
        ).flat(),
      ),
    close: () => admin.disconnect().catch(() => undefined),
  };
}

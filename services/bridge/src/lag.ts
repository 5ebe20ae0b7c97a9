import type { Kafka, Logger } from '@conveyor/platform';
import type { BridgeMetrics } from './metrics.js';

/** Committed offset vs log end per partition; an uncommitted partition lags from its log start. */
export function partitionLag(
  ends: Array<{ partition: number; high: string; low: string }>,
  committed: Array<{ partition: number; offset: string }>,
): Array<{ partition: number; lag: number }> {
  return ends.map(({ partition, high, low }) => {
    const offset = committed.find((c) => c.partition === partition)?.offset ?? '-1';
    const from = Number(offset) < 0 ? Number(low) : Number(offset);
    return { partition, lag: Math.max(0, Number(high) - from) };
  });
}

/** Measures lag on an interval (never on scrape, so a slow broker cannot stall /metrics). */
export function startLagMonitor(kafka: Kafka, topic: string, groupId: string, intervalMs: number, metrics: BridgeMetrics, logger: Logger) {
  const admin = kafka.admin();
  let connected: Promise<void> | undefined;
  const measure = async () => {
    try {
      await (connected ??= admin.connect());
      const [ends, offsets] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
      for (const { partition, lag } of partitionLag(ends, offsets[0]?.partitions ?? [])) {
        metrics.lag.set({ group: groupId, topic, partition: String(partition) }, lag);
      }
    } catch (error) {
      connected = undefined;
      logger.debug({ err: error }, 'could not measure consumer lag');
    }
  };
  const timer = setInterval(() => void measure(), intervalMs);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      await admin.disconnect().catch(() => undefined);
    },
  };
}

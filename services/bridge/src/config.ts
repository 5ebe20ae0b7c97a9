import { z } from 'zod';
import { awsEnv, commonEnv, env, kafkaEnv } from '@conveyor/platform';
import { topologyEnv } from '@conveyor/jobs';

export const configSchema = z.object({
  ...commonEnv,
  ...kafkaEnv,
  ...awsEnv,
  ...topologyEnv,
  /** /healthz, /readyz and /metrics (this service takes no other HTTP traffic). */
  OPS_PORT: env.port(9082),
  /** Entries per SNS PublishBatch call; SNS accepts at most 10. */
  BRIDGE_BATCH_SIZE: z.coerce.number().int().min(1).max(10).default(10),
  /** PublishBatch calls in flight per Kafka batch; offsets advance only over a contiguous prefix. */
  BRIDGE_PUBLISH_CONCURRENCY: env.int(4, 1),
  BRIDGE_PARTITIONS_CONCURRENCY: env.int(2, 1),
  /** How long a dead replica holds its partitions before the group gives them to another. */
  BRIDGE_SESSION_TIMEOUT_MS: env.int(30_000, 6_000),
  /**
   * How often offsets SNS accepted are committed to Kafka; 0 commits after every window of a batch.
   * On a crash, what was accepted since the last commit is published again (harmless duplicates).
   */
  BRIDGE_COMMIT_INTERVAL_MS: z.coerce.number().int().min(0).max(60_000).default(500),
  /** Attempts per chunk before it counts as one failure for the breaker (only failed entries are retried). */
  SNS_RETRY_ATTEMPTS: env.int(4, 1),
  SNS_RETRY_BASE_MS: env.int(100, 1),
  SNS_RETRY_MAX_MS: env.int(2_000, 1),
  /** Pause before consuming again after a chunk failed while the breaker stayed closed. */
  BRIDGE_FAILURE_PAUSE_MS: env.int(1_000, 0),
  BREAKER_ERROR_PERCENT: z.coerce.number().int().min(1).max(100).default(50),
  BREAKER_VOLUME_THRESHOLD: env.int(3, 1),
  BREAKER_RESET_MS: env.int(5_000, 100),
  BREAKER_TIMEOUT_MS: env.int(30_000, 100),
  BREAKER_ROLLING_WINDOW_MS: env.int(10_000, 1_000),
  /** How often consumer lag per partition is measured; 0 turns it off. */
  LAG_INTERVAL_MS: env.int(15_000, 0),
});

export type Config = z.infer<typeof configSchema>;

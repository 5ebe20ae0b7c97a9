import CircuitBreaker from 'opossum';
import type { PublishBatchRequestEntry } from '@aws-sdk/client-sns';
import type { Logger } from '@conveyor/platform';
import type { EntryFailure } from './publish.js';
import { BREAKER_STATE, type BridgeMetrics } from './metrics.js';

export interface BreakerOptions {
  errorThresholdPercentage: number;
  volumeThreshold: number;
  resetTimeout: number;
  timeout: number;
  rollingCountTimeout: number;
}

export type SnsBreaker = CircuitBreaker<[PublishBatchRequestEntry[]], EntryFailure[]>;

/** Guards SNS: after repeated failures calls fail fast until a half-open trial succeeds. */
export function snsBreaker(
  action: (entries: PublishBatchRequestEntry[]) => Promise<EntryFailure[]>,
  options: BreakerOptions,
  metrics: BridgeMetrics,
  logger: Logger,
): SnsBreaker {
  const breaker = new CircuitBreaker(action, { ...options, name: 'sns' });
  metrics.breakerState.set(BREAKER_STATE.closed);
  breaker.on('open', () => {
    metrics.breakerState.set(BREAKER_STATE.open);
    logger.warn({ resetMs: options.resetTimeout }, 'SNS circuit breaker open: pausing consumption');
  });
  breaker.on('halfOpen', () => {
    metrics.breakerState.set(BREAKER_STATE.halfOpen);
    logger.info('SNS circuit breaker half-open: trying again');
  });
  breaker.on('close', () => {
    metrics.breakerState.set(BREAKER_STATE.closed);
    logger.info('SNS circuit breaker closed');
  });
  return breaker;
}

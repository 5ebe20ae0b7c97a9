import type { KubeConfig } from '@kubernetes/client-node';
import { WORKER_POOLS } from '@conveyor/jobs';
import type { Logger, Pool } from '@conveyor/platform';
import { watchInto } from '../operator/controller.js';
import { kubernetesWriter } from '../operator/resource.js';
import { JobTypeController } from './job-type.controller.js';
import { KIND, PLURAL, type JobTypeObject } from './job-type.resource.js';

/** Watches JobTypes and reconciles them into the registry while this replica leads. */
export function startJobTypeOperator(options: {
  kc: KubeConfig;
  namespace: string;
  pool: Pool;
  logger: Logger;
  signal: AbortSignal;
  extraPools?: () => Iterable<string>;
  onError?: () => void;
}) {
  const { kc, namespace, logger } = options;
  const controller = new JobTypeController({
    pool: options.pool,
    writer: kubernetesWriter(kc, PLURAL),
    logger,
    signal: options.signal,
    onError: options.onError,
    knownPools: () => new Set([...WORKER_POOLS.map((p) => p.name), ...(options.extraPools?.() ?? [])]),
  });
  return watchInto<JobTypeObject, JobTypeController>(controller, { kc, namespace, logger, plural: PLURAL, kind: KIND });
}

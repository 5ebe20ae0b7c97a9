import { Counter, type Registry } from '@conveyor/platform';

export type SubmittedCounter = Counter<'type' | 'outcome'>;

/**
 * Jobs accepted by type; `outcome` tells a new job (`created`) from an idempotent repeat
 * (`replayed`). Shared by every route table built on the registry (tests build several).
 */
export function jobsSubmittedCounter(registry: Registry): SubmittedCounter {
  const name = 'conveyor_jobs_submitted_total';
  return (
    (registry.getSingleMetric(name) as SubmittedCounter | undefined) ??
    new Counter({
      name,
      help: 'Jobs accepted (202) by the api, by job type and outcome (created, replayed).',
      labelNames: ['type', 'outcome'] as const,
      registers: [registry],
    })
  );
}

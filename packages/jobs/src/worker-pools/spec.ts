/**
 * What a WorkerPool may hold: the CRD's rules (charts/conveyor/crds/workerpools.conveyor.dev.yaml,
 * its schema and CEL validations, with the same messages), for the two places that read a pool
 * without the API server in front: the operator re-checks what it reconciles, and `make start`
 * checks the manifests it starts team pools from (local.ts).
 */
import { z } from 'zod';
import { JOB_TYPE_NAME } from '../job-types/spec.js';
import { poolQueueNames, topology, workQueues, type PoolQueues, type WorkerPool } from '../topology.js';

/** A pool's name becomes its queue's, conveyor-<name>: the CRD's rule on metadata.name. */
export const POOL_NAME = /^[a-z][a-z0-9-]*$/;
const POOL_NAME_RULE = 'lowercase letters, digits and dashes, starting with a letter, at most 40';
export const poolName = z.string().max(40, POOL_NAME_RULE).regex(POOL_NAME, POOL_NAME_RULE);
/** The CRD's message for a WorkerPool's name that is no pool name. */
export const POOL_NAME_MESSAGE = `metadata.name must be a pool name (${POOL_NAME_RULE})`;

const between = (min: number, max: number, what: string) =>
  z
    .number()
    .int()
    .refine((v) => v >= min && v <= max, `${what} must be between ${min} and ${max}`);

export const workerPoolSpecSchema = z
  .strictObject({
    image: z.string().min(1).max(512).refine((v) => !v.includes(' '), 'image must not contain spaces'),
    jobTypes: z.array(z.string().max(64).regex(JOB_TYPE_NAME)).max(64).optional(),
    selector: z.object({ matchLabels: z.record(z.string(), z.string()) }).optional(),
    replicas: z
      .object({
        min: z.number().int().refine((v) => v >= 0, 'replicas.min must not be negative').default(0),
        max: between(1, 1000, 'replicas.max').default(5),
      })
      .prefault({})
      .refine((r) => r.min <= r.max, { message: 'replicas.min must not exceed replicas.max', path: ['min'] }),
    concurrency: between(1, 1024, 'concurrency').default(8),
    visibilityTimeoutSeconds: z
      .number()
      .int()
      .refine((v) => v >= 10 && v <= 43_200, "visibilityTimeoutSeconds must be between 10 and 43200 (SQS's limit)")
      .default(60),
    maxReceiveCount: between(1, 1000, 'maxReceiveCount').default(10),
    targetQueueDepth: z.number().int().refine((v) => v >= 1, 'targetQueueDepth must be positive').default(20),
    drainSeconds: z.number().int().max(3600).refine((v) => v >= 10, 'drainSeconds must be at least 10').default(60),
    /** Scale on time to drain too (KEDA reads the api's GET /scaling/pools/{name}); absent: on queue depth alone. */
    drainScaling: z
      .strictObject({
        targetDrainSeconds: between(1, 86_400, 'drainScaling.targetDrainSeconds').default(60),
        leadSeconds: between(0, 3600, 'drainScaling.leadSeconds').default(120),
      })
      .optional(),
    env: z.array(z.looseObject({ name: z.string().min(1) })).max(100).default([]),
  })
  .refine((s) => !(s.jobTypes && s.selector), { message: 'give jobTypes or selector, not both', path: ['jobTypes'] });
export type WorkerPoolSpec = z.infer<typeof workerPoolSpecSchema>;

/** The spec with its defaults, or the first thing wrong as `field: reason` (field relative to spec). */
export function parseWorkerPoolSpec(spec: unknown): { ok: true; spec: WorkerPoolSpec } | { ok: false; field: string; message: string } {
  const parsed = workerPoolSpecSchema.safeParse(spec ?? {});
  if (parsed.success) return { ok: true, spec: parsed.data };
  const issue = parsed.error.issues[0]!;
  const field = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
  return { ok: false, field, message: issue.message };
}

/** What provisioning needs of a pool (topology.ts' shape, so provision's functions take it as a platform pool). */
export function workerPoolOf(name: string, spec: Pick<WorkerPoolSpec, 'visibilityTimeoutSeconds' | 'maxReceiveCount'>): WorkerPool {
  return { name, jobTypes: [], visibilityTimeoutSeconds: spec.visibilityTimeoutSeconds, maxReceiveCount: spec.maxReceiveCount };
}

/** Every queue name a pool uses: its class queues and its DLQ. */
export const poolQueueSet = (names: PoolQueues) => [...new Set([names.queue, names.deadLetterQueue, ...workQueues(names).map((q) => q.queue)])];

/**
 * Why a team pool cannot use its queue names because a platform pool does ("x-dlq", "x-high" and
 * "x-low" make queue names of "x"), if it cannot.
 */
export function platformQueueConflict(conveyorNamespace: string, name: string): string | undefined {
  const mine = new Set(poolQueueSet(poolQueueNames(conveyorNamespace, name)));
  for (const platform of topology(conveyorNamespace).queues) {
    const hit = poolQueueSet(platform).find((n) => mine.has(n));
    if (hit) return `queue ${hit} belongs to the platform pool ${platform.pool.name}`;
  }
  return undefined;
}

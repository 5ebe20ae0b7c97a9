/**
 * WorkerPool specs the CRD refuses, with the field at fault: the real kube-apiserver refuses each
 * (worker-pools-crd.test.ts) and so does the check `make start` runs on local manifests
 * (packages/jobs/src/worker-pools/local.test.ts), with the CRD's own message where it is a CEL
 * rule of ours (`local` when the wording is the validator's).
 */
const valid = { image: 'registry.example.com/team/worker:1' };

export interface InvalidWorkerPoolCase {
  name: string;
  spec: Record<string, unknown>;
  /** The field under spec the message names. */
  field: string;
  crd: RegExp;
  local?: RegExp;
}

export const VALID_WORKER_POOL_SPEC = valid;

export const INVALID_WORKER_POOL_SPECS: InvalidWorkerPoolCase[] = [
  { name: 'a missing image', spec: { concurrency: 2 }, field: 'image', crd: /spec\.image: Required value/, local: /expected string/ },
  { name: 'an image with a space', spec: { image: 'a b' }, field: 'image', crd: /image must not contain spaces/ },
  { name: 'min above max replicas', spec: { ...valid, replicas: { min: 4, max: 2 } }, field: 'replicas.min', crd: /replicas\.min must not exceed replicas\.max/ },
  { name: 'zero max replicas', spec: { ...valid, replicas: { max: 0 } }, field: 'replicas.max', crd: /replicas\.max must be between 1 and 1000/ },
  { name: 'negative min replicas', spec: { ...valid, replicas: { min: -1 } }, field: 'replicas.min', crd: /replicas\.min must not be negative/ },
  { name: 'zero concurrency', spec: { ...valid, concurrency: 0 }, field: 'concurrency', crd: /concurrency must be between 1 and 1024/ },
  {
    name: 'a visibility timeout above SQS limit',
    spec: { ...valid, visibilityTimeoutSeconds: 50_000 },
    field: 'visibilityTimeoutSeconds',
    crd: /visibilityTimeoutSeconds must be between 10 and 43200/,
  },
  { name: 'zero target depth', spec: { ...valid, targetQueueDepth: 0 }, field: 'targetQueueDepth', crd: /targetQueueDepth must be positive/ },
  {
    name: 'a zero time-to-drain target',
    spec: { ...valid, drainScaling: { targetDrainSeconds: 0 } },
    field: 'drainScaling.targetDrainSeconds',
    crd: /drainScaling\.targetDrainSeconds must be between 1 and 86400/,
  },
  { name: 'a five-second drain', spec: { ...valid, drainSeconds: 5 }, field: 'drainSeconds', crd: /drainSeconds must be at least 10/ },
  {
    name: 'both jobTypes and a selector',
    spec: { ...valid, jobTypes: ['a.b'], selector: { matchLabels: { team: 'a' } } },
    field: 'jobTypes',
    crd: /give jobTypes or selector, not both/,
  },
  { name: 'a job type that is no type name', spec: { ...valid, jobTypes: ['Not A Type'] }, field: 'jobTypes[0]', crd: /spec\.jobTypes\[0\]/, local: /Invalid string/ },
  { name: 'an env entry without a name', spec: { ...valid, env: [{ value: 'x' }] }, field: 'env[0].name', crd: /spec\.env\[0\]\.name: Required value/, local: /expected string/ },
];

/** Object names Kubernetes accepts that are no pool name (a queue name must be lowercase words with dashes, starting with a letter). */
export const INVALID_POOL_NAMES = ['9lives', 'team.text', 'a'.repeat(41)];

/**
 * Team pools on this machine: `make start` starts one worker per WorkerPool manifest named in
 * CONVEYOR_WORKER_POOLS, from the manifest a team applies to Kubernetes. The spec is checked with
 * the CRD's rules (spec.ts); two annotations, which Kubernetes ignores, say what to run here
 * instead of the image:
 *   conveyor.dev/local-command  the worker's command, words split on spaces (no shell), e.g.
 *                               `node --enable-source-maps dist/main.js`: the process itself, so
 *                               `make stop`'s SIGTERM reaches the worker and it drains.
 *   conveyor.dev/local-dir      where it runs, relative to the manifest's folder (default: that folder).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { parseWorkerPoolSpec, platformQueueConflict, POOL_NAME_MESSAGE, poolName, type WorkerPoolSpec } from './spec.js';

export const LOCAL_COMMAND_ANNOTATION = 'conveyor.dev/local-command';
export const LOCAL_DIR_ANNOTATION = 'conveyor.dev/local-dir';
const API_VERSION = 'conveyor.dev/v1alpha1';

export interface LocalWorkerPool {
  /** The manifest it came from, as named. */
  file: string;
  name: string;
  spec: WorkerPoolSpec;
  /** The command and its arguments (the annotation's words). */
  command: string[];
  /** Absolute directory the command runs in. */
  dir: string;
}

/** A manifest `make start` cannot use: the message names the file and the field. */
export class ManifestError extends Error {
  constructor(file: string, field: string, reason: string) {
    super(`${file}: ${field}: ${reason}`);
    this.name = 'ManifestError';
  }
}

/**
 * Every WorkerPool in one file's YAML documents (others, such as a JobType beside it, are skipped).
 * `folder` is the file's, which local-dir is relative to.
 */
export function parseWorkerPoolManifests(text: string, file: string, folder = path.dirname(path.resolve(file))): LocalWorkerPool[] {
  const pools: LocalWorkerPool[] = [];
  for (const [i, doc] of parseAllDocuments(text).entries()) {
    if (doc.errors.length > 0) throw new ManifestError(file, `document ${i + 1}`, `not YAML: ${doc.errors[0]!.message}`);
    const obj: unknown = doc.toJS();
    if (!isRecord(obj) || obj.kind !== 'WorkerPool') continue;
    pools.push(parseWorkerPool(obj, file, folder));
  }
  if (pools.length === 0) throw new ManifestError(file, 'kind', 'no WorkerPool document in the file');
  return pools;
}

function parseWorkerPool(obj: Record<string, unknown>, file: string, folder: string): LocalWorkerPool {
  if (obj.apiVersion !== API_VERSION) throw new ManifestError(file, 'apiVersion', `must be ${API_VERSION}, not ${JSON.stringify(obj.apiVersion)}`);
  const metadata = isRecord(obj.metadata) ? obj.metadata : {};
  const name = poolName.safeParse(metadata.name);
  if (!name.success) throw new ManifestError(file, 'metadata.name', typeof metadata.name === 'string' ? POOL_NAME_MESSAGE : 'required');
  const where = `${file} (WorkerPool ${name.data})`;
  const parsed = parseWorkerPoolSpec(obj.spec);
  if (!parsed.ok) throw new ManifestError(where, parsed.field ? `spec.${parsed.field}` : 'spec', parsed.message);

  // services.sh passes the environment one variable per line.
  const broken = parsed.spec.env.findIndex((e) => typeof e.value === 'string' && e.value.includes('\n'));
  if (broken >= 0) throw new ManifestError(where, `spec.env[${broken}].value`, 'a line break cannot be passed to a local process');

  const annotations = isRecord(metadata.annotations) ? metadata.annotations : {};
  const commandText = annotations[LOCAL_COMMAND_ANNOTATION];
  if (typeof commandText !== 'string' || commandText.trim() === '') {
    throw new ManifestError(where, `metadata.annotations.${LOCAL_COMMAND_ANNOTATION}`, 'required to run the pool locally: the worker command, e.g. "node dist/main.js"');
  }
  const dirText = annotations[LOCAL_DIR_ANNOTATION] ?? '.';
  if (typeof dirText !== 'string') throw new ManifestError(where, `metadata.annotations.${LOCAL_DIR_ANNOTATION}`, 'must be a string');
  const dir = path.resolve(folder, dirText);
  return { file, name: name.data, spec: parsed.spec, command: commandText.trim().split(/\s+/), dir };
}

/**
 * The pools of CONVEYOR_WORKER_POOLS' files (comma-separated, relative to `cwd`), checked as the
 * operator would check them: each spec, no two pools of one name, no queue name of a platform pool,
 * and, locally, that the command's folder exists.
 */
export function loadLocalWorkerPools(list: string, cwd: string, conveyorNamespace: string): LocalWorkerPool[] {
  const files = list
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean);
  const pools: LocalWorkerPool[] = [];
  for (const file of files) {
    const absolute = path.resolve(cwd, file);
    if (!existsSync(absolute)) throw new ManifestError(file, 'file', 'not found (CONVEYOR_WORKER_POOLS names WorkerPool manifests, comma-separated)');
    for (const pool of parseWorkerPoolManifests(readFileSync(absolute, 'utf8'), file, path.dirname(absolute))) {
      const where = `${file} (WorkerPool ${pool.name})`;
      const twin = pools.find((p) => p.name === pool.name);
      if (twin) throw new ManifestError(where, 'metadata.name', `pool ${pool.name} is also defined in ${twin.file}`);
      const conflict = platformQueueConflict(conveyorNamespace, pool.name);
      if (conflict) throw new ManifestError(where, 'metadata.name', conflict);
      if (!existsSync(pool.dir) || !statSync(pool.dir).isDirectory()) {
        throw new ManifestError(where, `metadata.annotations.${LOCAL_DIR_ANNOTATION}`, `folder ${pool.dir} does not exist`);
      }
      pools.push(pool);
    }
  }
  return pools;
}

/**
 * The worker's environment beyond the local dev settings, as the operator's Deployment gives it
 * (pool, concurrency, drain), plus the manifest's own `value` entries, which win as in the
 * Deployment. `valueFrom` entries (a Secret in Kubernetes) are left to the local environment:
 * locally DATABASE_URL and the AWS settings come from scripts/dev.env.
 */
export function localWorkerEnv(pool: Pick<LocalWorkerPool, 'name' | 'spec'>): Record<string, string> {
  const env: Record<string, string> = {
    WORKER_POOL: pool.name,
    WORKER_CONCURRENCY: String(pool.spec.concurrency),
    WORKER_VISIBILITY_TIMEOUT_SECONDS: String(pool.spec.visibilityTimeoutSeconds),
    SHUTDOWN_GRACE_MS: String((pool.spec.drainSeconds - 5) * 1000),
  };
  for (const entry of pool.spec.env) {
    if (typeof entry.value === 'string') env[entry.name] = entry.value;
  }
  return env;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

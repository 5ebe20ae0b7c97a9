import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { loadYaml } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { chartCrdFixture, rejection, type ConveyorResource } from './crds.js';
import { INVALID_POOL_NAMES, INVALID_WORKER_POOL_SPECS, VALID_WORKER_POOL_SPEC } from './worker-pool-cases.js';

const { root: ROOT, make: workerPool, create } = chartCrdFixture('workerpools.conveyor.dev.yaml', 'WorkerPool', 'workerpools');
type WorkerPool = ConveyorResource;
const valid = VALID_WORKER_POOL_SPEC;

describe('WorkerPool CRD on a real kube-apiserver', () => {
  it('accepts a minimal WorkerPool and fills the defaults', async () => {
    const created = await create(workerPool('team-a', valid));
    expect(created.spec).toEqual({
      ...valid,
      replicas: { min: 0, max: 5 },
      concurrency: 8,
      visibilityTimeoutSeconds: 60,
      maxReceiveCount: 10,
      targetQueueDepth: 20,
      drainSeconds: 60,
    });
  });

  it("accepts the example team worker's manifest (examples/team-worker/k8s/workerpool.yaml) as written", async () => {
    const example = loadYaml<WorkerPool>(await readFile(path.join(ROOT, 'examples/team-worker/k8s/workerpool.yaml'), 'utf8'));
    // The example lives in the release's namespace; here every object goes to "default".
    const created = await create({ ...example, metadata: { name: example.metadata!.name } });
    expect(created.spec).toEqual(example.spec);
  });

  it.each(INVALID_WORKER_POOL_SPECS.map((c) => [c.name, c.spec, c.crd] as const))('refuses %s', async (_case, spec, message) => {
    const { code, text } = await rejection(create(workerPool(`bad-${Math.random().toString(36).slice(2, 8)}`, spec)));
    expect(code).toBe(422);
    expect(text).toMatch(message);
  });

  it('refuses a name that is no pool name', async () => {
    for (const name of INVALID_POOL_NAMES) {
      const { code, text } = await rejection(create(workerPool(name, valid)));
      expect(code).toBe(422);
      expect(text).toMatch(/metadata\.name must be a pool name/);
    }
  });
});

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { loadYaml } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { chartCrdFixture, rejection, type ConveyorResource } from './crds.js';

const { root: ROOT, make: workerPool, create } = chartCrdFixture('workerpools.conveyor.dev.yaml', 'WorkerPool', 'workerpools');
type WorkerPool = ConveyorResource;
const valid = { image: 'registry.example.com/team/worker:1' };

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

  it.each([
    ['a missing image', { concurrency: 2 }, /spec\.image: Required value/],
    ['an image with a space', { image: 'a b' }, /image must not contain spaces/],
    ['min above max replicas', { ...valid, replicas: { min: 4, max: 2 } }, /replicas\.min must not exceed replicas\.max/],
    ['zero max replicas', { ...valid, replicas: { max: 0 } }, /replicas\.max must be between 1 and 1000/],
    ['negative min replicas', { ...valid, replicas: { min: -1 } }, /replicas\.min must not be negative/],
    ['zero concurrency', { ...valid, concurrency: 0 }, /concurrency must be between 1 and 1024/],
    ['a visibility timeout above SQS limit', { ...valid, visibilityTimeoutSeconds: 50_000 }, /visibilityTimeoutSeconds must be between 10 and 43200/],
    ['zero target depth', { ...valid, targetQueueDepth: 0 }, /targetQueueDepth must be positive/],
    ['a five-second drain', { ...valid, drainSeconds: 5 }, /drainSeconds must be at least 10/],
    ['both jobTypes and a selector', { ...valid, jobTypes: ['a.b'], selector: { matchLabels: { team: 'a' } } }, /give jobTypes or selector, not both/],
    ['a job type that is no type name', { ...valid, jobTypes: ['Not A Type'] }, /spec\.jobTypes\[0\]/],
    ['an env entry without a name', { ...valid, env: [{ value: 'x' }] }, /spec\.env\[0\]\.name: Required value/],
  ])('refuses %s', async (_case, spec, message) => {
    const { code, text } = await rejection(create(workerPool(`bad-${Math.random().toString(36).slice(2, 8)}`, spec)));
    expect(code).toBe(422);
    expect(text).toMatch(message);
  });

  it('refuses a name that is no pool name', async () => {
    // Valid object names, but a queue name must be lowercase words with dashes starting with a letter.
    for (const name of ['9lives', 'team.text', 'a'.repeat(41)]) {
      const { code, text } = await rejection(create(workerPool(name, valid)));
      expect(code).toBe(422);
      expect(text).toMatch(/metadata\.name must be a pool name/);
    }
  });
});

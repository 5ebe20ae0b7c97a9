import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { INVALID_POOL_NAMES, INVALID_WORKER_POOL_SPECS, VALID_WORKER_POOL_SPEC } from '../../../../test/apiserver/worker-pool-cases.js';
import { loadLocalWorkerPools, localWorkerEnv, parseWorkerPoolManifests } from './local.js';

const ROOT = path.resolve(import.meta.dirname, '../../../..');
const annotations = { 'conveyor.dev/local-command': 'node --enable-source-maps dist/main.js', 'conveyor.dev/local-dir': '..' };
const manifest = (name: string, spec: unknown, extra: Record<string, unknown> = {}) =>
  stringify({ apiVersion: 'conveyor.dev/v1alpha1', kind: 'WorkerPool', metadata: { name, annotations }, spec, ...extra });

describe('local WorkerPool manifests (make start)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'local-pools-'));
  mkdirSync(path.join(dir, 'team/k8s'), { recursive: true });
  const write = (file: string, text: string) => {
    writeFileSync(path.join(dir, file), text);
    return file;
  };
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads the example team worker's manifest: the pool, the command in its folder, the spec's defaults", () => {
    const [pool, ...rest] = loadLocalWorkerPools('examples/team-worker/k8s/workerpool.yaml', ROOT, 'dev');
    expect(rest).toEqual([]);
    expect(pool).toMatchObject({
      file: 'examples/team-worker/k8s/workerpool.yaml',
      name: 'team-text',
      command: ['node', '--enable-source-maps', 'dist/main.js'],
      dir: path.join(ROOT, 'examples/team-worker'),
      spec: { concurrency: 8, visibilityTimeoutSeconds: 60, drainSeconds: 60, replicas: { min: 0, max: 5 } },
    });
    // The Deployment's env, and the manifest's own values; DATABASE_URL (a Secret there) is left to dev.env.
    expect(localWorkerEnv(pool!)).toEqual({
      WORKER_POOL: 'team-text',
      WORKER_CONCURRENCY: '8',
      WORKER_VISIBILITY_TIMEOUT_SECONDS: '60',
      SHUTDOWN_GRACE_MS: '55000',
      LOG_LEVEL: 'info',
    });
  });

  it('takes several files, and the WorkerPools among other documents of a file', () => {
    const a = write('team/k8s/a.yaml', `kind: JobType\nmetadata: {name: x.y}\nspec: {pool: team-a}\n---\n${manifest('team-a', VALID_WORKER_POOL_SPEC)}`);
    const b = write('team/k8s/b.yaml', manifest('team-b', { ...VALID_WORKER_POOL_SPEC, concurrency: 2 }));
    const pools = loadLocalWorkerPools(` ${a}, ${b} `, dir, '');
    expect(pools.map((p) => [p.name, p.spec.concurrency, p.dir])).toEqual([
      ['team-a', 8, path.join(dir, 'team')],
      ['team-b', 2, path.join(dir, 'team')],
    ]);
    expect(loadLocalWorkerPools('', dir, '')).toEqual([]);
  });

  it.each(INVALID_WORKER_POOL_SPECS.map((c) => [c.name, c] as const))('refuses %s as the CRD does, naming the file and the field', (_name, c) => {
    const text = manifest('team-bad', c.spec);
    expect(() => parseWorkerPoolManifests(text, 'k8s/bad.yaml')).toThrow(`k8s/bad.yaml (WorkerPool team-bad): spec.${c.field}: `);
    expect(() => parseWorkerPoolManifests(text, 'k8s/bad.yaml')).toThrow(c.local ?? c.crd);
  });

  it('refuses a name that is no pool name, as the CRD does', () => {
    for (const name of INVALID_POOL_NAMES) {
      expect(() => parseWorkerPoolManifests(manifest(name, VALID_WORKER_POOL_SPEC), 'p.yaml')).toThrow(/^p\.yaml: metadata\.name: metadata\.name must be a pool name/);
    }
  });

  it('refuses what a local run cannot use, naming the file and the field', () => {
    const noCommand = stringify({ apiVersion: 'conveyor.dev/v1alpha1', kind: 'WorkerPool', metadata: { name: 'team-c' }, spec: VALID_WORKER_POOL_SPEC });
    expect(() => parseWorkerPoolManifests(noCommand, 'c.yaml')).toThrow('c.yaml (WorkerPool team-c): metadata.annotations.conveyor.dev/local-command: required');
    expect(() => parseWorkerPoolManifests(manifest('x', VALID_WORKER_POOL_SPEC, { apiVersion: 'v1' }), 'v.yaml')).toThrow('v.yaml: apiVersion: must be conveyor.dev/v1alpha1');
    expect(() => parseWorkerPoolManifests('kind: JobType\n', 'j.yaml')).toThrow('j.yaml: kind: no WorkerPool document in the file');
    expect(() => parseWorkerPoolManifests('kind: [oops\n', 'y.yaml')).toThrow(/^y\.yaml: document 1: not YAML/);
    // A typo Kubernetes' strict field validation would refuse too, rather than a default silently used.
    expect(() => parseWorkerPoolManifests(manifest('team-d', { ...VALID_WORKER_POOL_SPEC, concurency: 2 }), 'd.yaml')).toThrow(/d\.yaml \(WorkerPool team-d\): spec: Unrecognized key: "concurency"/);

    const multiline = { ...VALID_WORKER_POOL_SPEC, env: [{ name: 'A', value: 'x' }, { name: 'PEM', value: 'line 1\nline 2' }] };
    expect(() => parseWorkerPoolManifests(manifest('team-f', multiline), 'f.yaml')).toThrow('f.yaml (WorkerPool team-f): spec.env[1].value: a line break cannot be passed');

    expect(() => loadLocalWorkerPools('team/k8s/missing.yaml', dir, '')).toThrow('team/k8s/missing.yaml: file: not found');
    const twin = write('team/k8s/twin.yaml', manifest('team-a', VALID_WORKER_POOL_SPEC));
    expect(() => loadLocalWorkerPools(`team/k8s/a.yaml,${twin}`, dir, '')).toThrow('team/k8s/twin.yaml (WorkerPool team-a): metadata.name: pool team-a is also defined in team/k8s/a.yaml');
    const platform = write('team/k8s/platform.yaml', manifest('reports-dlq', VALID_WORKER_POOL_SPEC));
    expect(() => loadLocalWorkerPools(platform, dir, 'ns1')).toThrow('metadata.name: queue ns1-conveyor-reports-dlq belongs to the platform pool reports');
    const nowhere = write('team/k8s/nowhere.yaml', manifest('team-e', VALID_WORKER_POOL_SPEC).replace('local-dir: ..', 'local-dir: ../missing'));
    expect(() => loadLocalWorkerPools(nowhere, dir, '')).toThrow(`metadata.annotations.conveyor.dev/local-dir: folder ${path.join(dir, 'team/missing')} does not exist`);
  });
});

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
// The module itself (what @conveyor/jobs exports), so the chart tests need no build of the workspace.
import { topology, workQueues, WORKER_POOLS } from '../../packages/jobs/src/topology.js';
import { ciValuesFiles, renderChart, type K8sObject } from './render.js';

/**
 * One source of truth for names: the chart's worker Deployments, ScaledObjects and queue URLs must
 * be exactly what topology() — which the provisioning Job uses — says, for every ci values file
 * and with a namespace prefix.
 */

function env(obj: K8sObject, name: string): string | undefined {
  const container = obj.spec.template.spec.containers[0];
  return container.env?.find((e: { name: string }) => e.name === name)?.value;
}

const cases = ciValuesFiles().flatMap((file) => [
  { file, set: {} as Record<string, string> },
  { file, set: { 'config.namespace': 'chart-names-test' } },
]);

describe.each(cases)('names in $file with $set', ({ file, set }) => {
  const objects = renderChart([file], set);
  // The namespace the values ask for (the chart's default is none), not what the chart rendered.
  const values = parse(readFileSync(file, 'utf8')) as { config?: { namespace?: string } };
  const namespace = set['config.namespace'] ?? values.config?.namespace ?? '';
  const topo = topology(namespace);
  const workers = objects.filter((o) => o.kind === 'Deployment' && env(o, 'WORKER_POOL') !== undefined);
  const scaledObjects = objects.filter((o) => o.kind === 'ScaledObject');

  it('renders one worker Deployment per topology pool, each told its pool and namespace', () => {
    expect(workers.map((w) => env(w, 'WORKER_POOL')).sort()).toEqual(WORKER_POOLS.map((p) => p.name).sort());
    for (const worker of workers) {
      expect(worker.metadata.name).toBe(`conveyor-worker-${env(worker, 'WORKER_POOL')}`);
      expect(env(worker, 'CONVEYOR_NAMESPACE')).toBe(namespace);
    }
  });

  it('gives every service the same CONVEYOR_NAMESPACE as the provisioning Job', () => {
    const provision = objects.find((o) => o.kind === 'Job' && o.metadata.name.endsWith('-provision'));
    expect(provision).toBeDefined();
    expect(env(provision!, 'CONVEYOR_NAMESPACE')).toBe(namespace);
    for (const deployment of objects.filter((o) => o.kind === 'Deployment')) {
      expect(env(deployment, 'CONVEYOR_NAMESPACE'), deployment.metadata.name).toBe(namespace);
    }
  });

  it('scales each pool on the queue topology() names, with a /<account>/<queue> URL path', () => {
    expect(scaledObjects).toHaveLength(topo.queues.length);
    for (const names of topo.queues) {
      const { pool } = names;
      const scaled = scaledObjects.find((s) => s.spec.scaleTargetRef.name === `conveyor-worker-${pool.name}`);
      expect(scaled, `ScaledObject for pool ${pool.name}`).toBeDefined();
      expect(workers.some((w) => w.metadata.name === scaled!.spec.scaleTargetRef.name)).toBe(true);
      // One trigger per priority class queue and lane, in topology()'s order and with its keys,
      // then the time-to-drain trigger on the pool's own name where the pool has one.
      const all = scaled!.spec.triggers as Array<{ type: string; name: string; metadata: { queueURL: string; url: string } }>;
      const triggers = all.filter((t) => t.type === 'aws-sqs-queue');
      expect(triggers.map((t) => t.name)).toEqual(workQueues(names).map((c) => c.key));
      for (const drain of all.filter((t) => t.type !== 'aws-sqs-queue')) {
        expect(drain).toMatchObject({ type: 'metrics-api', name: 'drain' });
        expect(new URL(drain.metadata.url).pathname).toBe(`/scaling/pools/${pool.name}`);
      }
      for (const [i, { queue }] of workQueues(names).entries()) {
        expect(triggers[i]!.type).toBe('aws-sqs-queue');
        const url = new URL(triggers[i]!.metadata.queueURL);
        expect(url.pathname).toMatch(/^\/\d{12}\/[^/]+$/);
        expect(url.pathname.split('/')[2]).toBe(queue);
      }
      expect(scaled!.spec.advanced.scalingModifiers.formula).toContain(triggers.map((t) => t.name).join(' + '));
    }
  });
});

import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bridgeIp, deploymentReplicas, eventually, kubectl, kubectlJson, namespace, sampler, sh, shResult } from './cluster.js';

// Bad input meets a clear answer: helm refuses values of the wrong type with the schema's message,
// KEDA reports a queue that does not exist while the pool keeps its minimum, and a crashing pod is
// reported with its logs.
const repoRoot = path.resolve(import.meta.dirname, '../..');
const chart = path.join(repoRoot, 'charts/conveyor');
const scratch = mkdtempSync(path.join(tmpdir(), 'cluster-bad-input-'));
const testNamespace = `conveyor-bad-${randomUUID().slice(0, 8)}`;

async function apply(name: string, objects: unknown[]) {
  const file = path.join(scratch, `${name}.json`);
  writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
  await kubectl('apply', '-f', file);
}

/** A one-replica Deployment of one container, labelled by its name. */
function deployment(name: string, container: Record<string, unknown>) {
  const labels = { 'app.kubernetes.io/name': name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: testNamespace },
    spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'worker', imagePullPolicy: 'Never', ...container }] } } },
  };
}

/** The image the chart runs for the default worker pool (built from the Dockerfile by images.sh). */
async function workerImage(): Promise<string> {
  const d = await kubectlJson<{ spec: { template: { spec: { containers: Array<{ image: string }> } } } }>('-n', namespace, 'get', 'deployment', 'conveyor-worker-default');
  return d.spec.template.spec.containers[0]!.image;
}

describe('bad input on the local cluster', () => {
  afterAll(async () => {
    await kubectl('delete', 'namespace', testNamespace, '--ignore-not-found', '--wait=false');
  });

  it('refuses a values file with a wrong type at helm install, quoting the schema', async () => {
    const values = path.join(scratch, 'wrong-type.yaml');
    writeFileSync(values, 'components:\n  gateway:\n    replicas: two\n');
    const release = `wrong-${randomUUID().slice(0, 8)}`;
    const result = await shResult('helm', ['install', release, chart, '--namespace', testNamespace, '--create-namespace',
      '--values', path.join(chart, 'ci/cluster-values.yaml'), '--values', values, '--wait', '--timeout', '1m']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/values don't meet the specifications of the schema/);
    expect(result.stderr).toMatch(/components\.gateway\.replicas.*(integer|Invalid type)|replicas.*got string/);
    expect((await shResult('helm', ['status', release, '--namespace', testNamespace])).code).not.toBe(0);
  });

  it('reports a ScaledObject whose queue does not exist, and keeps the pool at its minimum', async () => {
    await kubectl('create', 'namespace', testNamespace).catch(() => undefined);
    await apply('missing-queue', [
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'aws', namespace: testNamespace }, stringData: { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' } },
      {
        apiVersion: 'keda.sh/v1alpha1',
        kind: 'TriggerAuthentication',
        metadata: { name: 'aws', namespace: testNamespace },
        spec: { secretTargetRef: [{ parameter: 'awsAccessKeyID', name: 'aws', key: 'AWS_ACCESS_KEY_ID' }, { parameter: 'awsSecretAccessKey', name: 'aws', key: 'AWS_SECRET_ACCESS_KEY' }] },
      },
      deployment('pool', { image: await workerImage(), command: ['sleep', 'infinity'] }),
      {
        apiVersion: 'keda.sh/v1alpha1',
        kind: 'ScaledObject',
        metadata: { name: 'pool', namespace: testNamespace },
        spec: {
          scaleTargetRef: { name: 'pool' },
          minReplicaCount: 1,
          maxReplicaCount: 3,
          pollingInterval: 5,
          triggers: [
            {
              type: 'aws-sqs-queue',
              authenticationRef: { name: 'aws' },
              metadata: { queueURL: `http://${bridgeIp}:24566/000000000000/no-such-queue`, awsEndpoint: `http://${bridgeIp}:24566`, awsRegion: 'us-east-1', queueLength: '5' },
            },
          ],
        },
      },
    ]);
    const replicas = sampler(() => deploymentReplicas('pool', testNamespace));
    const reported = await eventually(
      async () => {
        const so = await kubectlJson<{ status?: { conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> } }>('-n', testNamespace, 'get', 'scaledobject', 'pool');
        const events = await kubectlJson<{ items: Array<{ reason: string; message: string }> }>('-n', testNamespace, 'get', 'events', '--field-selector', 'involvedObject.kind=ScaledObject,involvedObject.name=pool');
        return { conditions: so.status?.conditions ?? [], events: events.items.map((e) => `${e.reason}: ${e.message}`) };
      },
      // The error itself is in the Warning events; the Ready condition turns False on it.
      (s) => s.events.some((e) => /NonExistentQueue/.test(e)) && s.conditions.some((c) => c.type === 'Ready' && c.status === 'False' && c.reason === 'TriggerError'),
      120_000,
      'KEDA to report the missing queue on the ScaledObject (Ready False, TriggerError; a KEDAScalerFailed event naming it)',
      2000,
    );
    console.log(`ScaledObject conditions: ${JSON.stringify(reported.conditions)}\nevents: ${reported.events.join('\n')}`);
    await new Promise((r) => setTimeout(r, 20_000));
    const seen = (await replicas.stop()).map((s) => s.value);
    expect(seen.length).toBeGreaterThan(10);
    expect(seen.every((n) => n === 1), `replicas over time: ${seen.join(' ')}`).toBe(true);
  });

  it('reports a crashing pod with its logs (scripts/cluster/report.sh, as make cluster-test does on failure)', async () => {
    await kubectl('create', 'namespace', testNamespace).catch(() => undefined);
    await apply('crashing', [deployment('crashing-worker', { image: await workerImage(), env: [{ name: 'DATABASE_URL', value: 'not-a-url' }] })]);
    await eventually(
      () => kubectlJson<{ items: Array<{ status: { containerStatuses?: Array<{ restartCount: number }> } }> }>('-n', testNamespace, 'get', 'pods', '-l', 'app.kubernetes.io/name=crashing-worker'),
      (list) => list.items.some((p) => (p.status.containerStatuses?.[0]?.restartCount ?? 0) >= 1),
      120_000,
      'the misconfigured worker to crash and restart',
      2000,
    );
    const report = await sh(path.join(repoRoot, 'scripts/cluster/report.sh'), [testNamespace]);
    expect(report).toMatch(/===== pod crashing-worker-/);
    expect(report).toMatch(/DATABASE_URL/);
  });
});

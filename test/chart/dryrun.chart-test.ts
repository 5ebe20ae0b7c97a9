import { readdirSync } from 'node:fs';
import path from 'node:path';
import { CoreV1Api, KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installCrds } from '../apiserver/crds.js';
import { BUILD_TIMEOUT_MS, startApiServer, type ApiServer } from '../apiserver/harness.js';
import { dryRunClient, type DryRunClient, type Rejection } from './dryrun.js';
import { chartDir, ciValuesFiles, renderChart, repoRoot, type K8sObject } from './render.js';

/**
 * kubeconform only knows the OpenAPI schemas; the real kube-apiserver also runs defaulting,
 * CEL rules of the CRDs, admission and the per-kind validation code. Every object the chart
 * renders (hooks and helm tests included) is server-side applied with dryRun=All and
 * fieldValidation=Strict, so nothing is stored and an unknown field is an error.
 */

// render.ts renders with `--namespace conveyor`; helm install puts namespaced objects there.
const NAMESPACE = 'conveyor';

function crdFiles(): string[] {
  const dirs = [path.join(chartDir, 'crds'), path.join(repoRoot, 'test/chart/crds')];
  return dirs.flatMap((dir) =>
    readdirSync(dir)
      .filter((f) => f.endsWith('.yaml'))
      .sort()
      .map((f) => path.join(dir, f)),
  );
}

function inReleaseNamespace(object: K8sObject): KubernetesObject {
  const copy = structuredClone(object);
  copy.metadata.namespace ??= NAMESPACE;
  return copy as KubernetesObject;
}

function describeObject(o: K8sObject): string {
  const hook = o.metadata.annotations?.['helm.sh/hook'];
  return `${o.kind}/${o.metadata.name}${hook ? ` (hook ${hook})` : ''}`;
}

let apiserver: ApiServer | undefined;
let kc: KubeConfig;
let client: DryRunClient;

beforeAll(async () => {
  apiserver = await startApiServer();
  kc = new KubeConfig();
  kc.loadFromFile(apiserver.kubeconfigPath);
  await installCrds(kc, crdFiles());
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: NAMESPACE } } });
  // The harness runs no controller-manager, which is what creates "default" in every namespace;
  // the helm test Pod runs as it, and the ServiceAccount admission plugin requires it to exist.
  await core.createNamespacedServiceAccount({ namespace: NAMESPACE, body: { metadata: { name: 'default' } } });
  client = dryRunClient(kc);
}, BUILD_TIMEOUT_MS + 120_000);

afterAll(() => apiserver?.stop(), 60_000);

// A values file may turn a kind off (cluster-values.yaml has no prometheus-operator); together the
// CI values files must render every kind this test exists for, so each reaches the API server once.
it('the CI values files together render the kinds this test exists for', () => {
  const objects = ciValuesFiles().flatMap((file) => renderChart([file]));
  const kinds = new Set(objects.map((o) => o.kind));
  for (const kind of ['Deployment', 'ScaledObject', 'TriggerAuthentication', 'ServiceMonitor', 'PrometheusRule', 'Pod', 'Job']) {
    expect(kinds, `the chart renders a ${kind}`).toContain(kind);
  }
  expect(objects.some((o) => o.metadata.annotations?.['helm.sh/hook']), 'the chart renders hooks').toBe(true);
});

describe.each(ciValuesFiles())('server-side apply --dry-run of %s', (file) => {
  const objects = renderChart([file]);

  it('the API server accepts every rendered object', async () => {
    const rejected: string[] = [];
    for (const object of objects) {
      const verdict = await client.apply(inReleaseNamespace(object));
      if (!verdict.accepted) rejected.push(`${describeObject(object)}: ${verdict.code} ${verdict.message}`);
    }
    expect(rejected).toEqual([]);
  });
});

describe('the dry run is strict and stores nothing', () => {
  const objects = renderChart([ciValuesFiles()[0]!]);
  const find = (kind: string): K8sObject => {
    const found = objects.find((o) => o.kind === kind);
    if (!found) throw new Error(`the chart renders no ${kind}`);
    return inReleaseNamespace(found) as K8sObject;
  };

  async function rejection(object: K8sObject): Promise<Rejection> {
    const verdict = await client.apply(object as KubernetesObject);
    if (verdict.accepted) throw new Error(`the API server accepted ${describeObject(object)}`);
    return verdict;
  }

  // Under server-side apply an unknown field fails while the typed patch is built (the status code
  // has varied: 500 as well as 400/422), so the message is what identifies the cause. This case also
  // guards dryrun.ts: KubernetesObjectApi.patch would have dropped the field before sending it.
  it('rejects a Deployment with a misspelt field, naming the field', async () => {
    const broken = find('Deployment');
    const container = broken.spec.template.spec.containers[0];
    container.securityContext.readOnlyRootFS = true;
    const { message } = await rejection(broken);
    expect(message).toContain(
      `.spec.template.spec.containers[name="${container.name}"].securityContext.readOnlyRootFS: field not declared in schema`,
    );
  });

  // What kubeconform cannot see: the per-kind validation code of the API server.
  it('rejects a Deployment whose selector does not match its pod labels', async () => {
    const broken = find('Deployment');
    broken.spec.selector.matchLabels['app.kubernetes.io/component'] = 'not-this-one';
    const { message } = await rejection(broken);
    expect(message).toContain('`selector` does not match template `labels`');
  });

  it('rejects a ScaledObject (KEDA CRD) with a misspelt field, naming the field', async () => {
    const broken = find('ScaledObject');
    broken.spec.cooldown = 30;
    const { message } = await rejection(broken);
    expect(message).toMatch(/\.spec\.cooldown: field not declared in schema/);
  });

  it('leaves nothing behind: an accepted Deployment is not readable afterwards', async () => {
    const deployment = find('Deployment');
    expect(await client.apply(deployment as KubernetesObject)).toEqual({ accepted: true });
    await expect(client.objects.read(deployment as KubernetesObject & { metadata: { name: string } })).rejects.toMatchObject({ code: 404 });
  });
});

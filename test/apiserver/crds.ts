import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import { ApiException, ApiextensionsV1Api, CustomObjectsApi, KubeConfig, loadAllYaml, type KubernetesObject, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { BUILD_TIMEOUT_MS, startApiServer, type ApiServer } from './harness.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Creates every CustomResourceDefinition in the given YAML files (strict field
 * validation, so a typo in a CRD fails here) and waits until each is
 * Established, i.e. its resources can be served.
 */
export async function installCrds(kc: KubeConfig, files: string[], timeoutMs = 30_000): Promise<V1CustomResourceDefinition[]> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  const names: string[] = [];
  for (const file of files) {
    const docs = loadAllYaml(await readFile(file, 'utf8')) as V1CustomResourceDefinition[];
    for (const body of docs.filter((doc) => doc?.kind === 'CustomResourceDefinition')) {
      await api.createCustomResourceDefinition({ body, fieldValidation: 'Strict' });
      names.push(body.metadata!.name!);
    }
  }
  const deadline = Date.now() + timeoutMs;
  const established: V1CustomResourceDefinition[] = [];
  for (const name of names) {
    for (;;) {
      const crd = await api.readCustomResourceDefinition({ name });
      if (crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) {
        established.push(crd);
        break;
      }
      if (Date.now() > deadline) throw new Error(`CRD ${name} not Established within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return established;
}

/** Resolves with the API server's status code and message for a request that must fail. */
export async function rejection(request: Promise<unknown>): Promise<{ code: number; text: string }> {
  try {
    await request;
  } catch (error) {
    if (!(error instanceof ApiException)) throw error;
    // The body is the API server's Status object; its message names the offending fields.
    const body: unknown = typeof error.body === 'string' ? JSON.parse(error.body) : error.body;
    return { code: error.code, text: (body as { message?: string }).message ?? JSON.stringify(body) };
  }
  throw new Error('the API server accepted the request');
}

export interface ConveyorResource extends KubernetesObject {
  spec: Record<string, unknown>;
}

/**
 * A kube-apiserver with one of the chart's CRDs, started before and stopped after the calling test
 * file, and how to create its objects in `default` under strict field validation.
 */
export function chartCrdFixture(file: string, kind: string, plural: string) {
  const ref = { group: 'conveyor.dev', version: 'v1alpha1', namespace: 'default', plural };
  const state: { apiserver?: ApiServer; objects?: CustomObjectsApi } = {};
  beforeAll(async () => {
    state.apiserver = await startApiServer();
    const kc = new KubeConfig();
    kc.loadFromFile(state.apiserver.kubeconfigPath);
    state.objects = kc.makeApiClient(CustomObjectsApi);
    await installCrds(kc, [path.join(ROOT, 'charts/conveyor/crds', file)]);
  }, BUILD_TIMEOUT_MS + 120_000);
  afterAll(() => state.apiserver?.stop(), 60_000);
  const objects = () => state.objects!;
  return {
    ref,
    objects,
    /** Repository files (the examples) as the tests read them. */
    root: ROOT,
    make: (name: string, spec: Record<string, unknown>): ConveyorResource => ({ apiVersion: 'conveyor.dev/v1alpha1', kind, metadata: { name }, spec }),
    create: (body: ConveyorResource) => objects().createNamespacedCustomObject({ ...ref, body, fieldValidation: 'Strict' }) as Promise<ConveyorResource>,
  };
}

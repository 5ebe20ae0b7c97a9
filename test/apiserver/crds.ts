import { readFile } from 'node:fs/promises';
import { ApiException, ApiextensionsV1Api, loadAllYaml, type KubeConfig, type V1CustomResourceDefinition } from '@kubernetes/client-node';

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

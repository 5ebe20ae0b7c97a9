import {
  ApiException,
  HttpMethod,
  KubernetesObjectApi,
  PatchStrategy,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';

/**
 * Server-side apply in dry-run mode with fieldValidation=Strict: the API server runs defaulting,
 * schema and CEL validation and admission on the object, so it is judged as `helm install` would
 * have it judged, without anything being stored.
 *
 * KubernetesObjectApi.patch is not used because it (1) has no fieldValidation parameter and
 * (2) runs the body through the client's ObjectSerializer, which silently drops every field its
 * generated model for a built-in kind does not know: a misspelt field in a Deployment would never
 * reach the server. This subclass reuses its discovery (URL of any kind) and sends the object as is.
 */
class StrictDryRunApi extends KubernetesObjectApi {
  async dryRunApply(object: KubernetesObject, fieldManager: string): Promise<KubernetesObject> {
    const url = await this.specUriPath(object, 'patch');
    const request = this.configuration.baseServer.makeRequestContext(url, HttpMethod.PATCH);
    request.setHeaderParam('Accept', 'application/json');
    request.setHeaderParam('Content-Type', PatchStrategy.ServerSideApply);
    request.setQueryParam('dryRun', 'All');
    request.setQueryParam('fieldValidation', 'Strict');
    request.setQueryParam('fieldManager', fieldManager);
    request.setQueryParam('force', 'true');
    request.setBody(JSON.stringify(object));
    return this.requestPromise(request);
  }
}

export type Rejection = { accepted: false; code: number; message: string };
export type Verdict = { accepted: true } | Rejection;

export interface DryRunClient {
  /** Resolves with the API server's verdict on the object instead of throwing. */
  apply(object: KubernetesObject): Promise<Verdict>;
  /** The plain client (reads), sharing the same discovery. */
  objects: KubernetesObjectApi;
}

export function dryRunClient(kc: KubeConfig, fieldManager = 'chart-test'): DryRunClient {
  const api = kc.makeApiClient(StrictDryRunApi);
  return {
    objects: api,
    async apply(object) {
      try {
        await api.dryRunApply(object, fieldManager);
        return { accepted: true };
      } catch (error) {
        if (!(error instanceof ApiException)) throw error;
        // The body is the API server's Status; its message names the offending fields.
        const body: unknown = typeof error.body === 'string' ? parseJson(error.body) : error.body;
        const message = (body as { message?: string } | undefined)?.message ?? JSON.stringify(body);
        return { accepted: false, code: error.code, message };
      }
    },
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { message: text };
  }
}

/** Loads the API's OpenAPI document once per page (it changes only with a deployment). */
import { getJson } from './api';
import { fromDocument, typesFromDocument, type Capabilities, type JobTypeInfo, type OpenApiDocument } from './api-document';
import type { JsonSchema } from './json-schema';

export type { Capabilities, JobTypeInfo } from './api-document';

let loading: Promise<Capabilities> | undefined;

export function capabilities(): Promise<Capabilities> {
  loading ??= getJson<OpenApiDocument>('/openapi.json', { anonymous: true })
    .then((document) => fromDocument(document, registeredTypes))
    .catch((error: unknown) => {
      loading = undefined;
      throw error;
    });
  return loading;
}

interface RegisteredType {
  name?: string;
  type?: string;
  description?: string;
  schema?: JsonSchema;
  payloadSchema?: JsonSchema;
  /** The api's registry (GET /job-types) puts the schema in the latest version. */
  latest?: { schema?: JsonSchema };
  /** Set once retired: submits of it are refused. */
  retiredAt?: string | null;
}

/** The job type registry, once the api has one: each type with its JSON Schema. */
async function registeredTypes(document: OpenApiDocument): Promise<JobTypeInfo[]> {
  const reply = await getJson<{ items?: RegisteredType[] } | RegisteredType[]>('/job-types');
  const items = Array.isArray(reply) ? reply : (reply.items ?? []);
  const options = typesFromDocument(document)[0]?.options ?? {};
  return items
    .filter((item) => !item.retiredAt)
    .map((item) => ({
      name: item.name ?? item.type ?? '',
      description: item.description,
      payload: item.payloadSchema ?? item.schema ?? item.latest?.schema ?? {},
      options,
      root: document,
    }))
    .filter((t) => t.name !== '');
}

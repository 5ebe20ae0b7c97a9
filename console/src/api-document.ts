/**
 * What this API offers, read from its own OpenAPI document: the console shows a page or a button
 * only when the route behind it exists, so it works against an api older or newer than itself.
 * Pure: capabilities.ts loads the document.
 */
import { resolveRef, type JsonSchema } from './json-schema';

export interface OpenApiDocument {
  paths?: Record<string, Record<string, unknown>>;
  components?: { schemas?: Record<string, JsonSchema> };
}

export interface JobTypeInfo {
  name: string;
  description?: string;
  /** JSON Schema of the payload. */
  payload: JsonSchema;
  /** Schema of POST /jobs's other fields (runAt, priority, ...), as this api documents them. */
  options: Record<string, JsonSchema>;
  /** The whole document the schemas' `$ref`s point into. */
  root: unknown;
}

export interface Capabilities {
  has(method: string, path: string): boolean;
  /** The query parameters a route documents (filters the api supports). */
  queryParams(method: string, path: string): Set<string>;
  jobTypes(): Promise<JobTypeInfo[]>;
  document: OpenApiDocument;
}

/** `registered` reads the job type registry (GET /job-types) when the document lists it. */
export function fromDocument(document: OpenApiDocument, registered: (document: OpenApiDocument) => Promise<JobTypeInfo[]>): Capabilities {
  const paths = document.paths ?? {};
  const has = (method: string, path: string) => Boolean(paths[path]?.[method.toLowerCase()]);
  const queryParams = (method: string, path: string) => {
    const operation = paths[path]?.[method.toLowerCase()] as { parameters?: Array<{ in?: string; name?: string }> } | undefined;
    return new Set((operation?.parameters ?? []).filter((p) => p.in === 'query' && p.name).map((p) => p.name!));
  };
  let types: Promise<JobTypeInfo[]> | undefined;
  return {
    document,
    has,
    queryParams,
    jobTypes: () => (types ??= has('get', '/job-types') ? registered(document) : Promise.resolve(typesFromDocument(document))),
  };
}

/** The submit body's documented variants, one per job type (`type` is a one-value enum or const). */
export function typesFromDocument(document: OpenApiDocument): JobTypeInfo[] {
  const post = document.paths?.['/jobs']?.post as { requestBody?: { content?: Record<string, { schema?: JsonSchema }> } } | undefined;
  const body = post?.requestBody?.content?.['application/json']?.schema;
  if (!body) return [];
  const union = resolveRef(body, document);
  const variants = union.oneOf ?? union.anyOf ?? [union];
  const found: JobTypeInfo[] = [];
  for (const raw of variants) {
    const variant = resolveRef(raw, document);
    const typeSchema = variant.properties?.type ? resolveRef(variant.properties.type, document) : undefined;
    const name = typeSchema?.const ?? (typeSchema?.enum?.length === 1 ? typeSchema.enum[0] : undefined);
    if (typeof name !== 'string') continue;
    const { type: _type, payload, ...options } = variant.properties ?? {};
    found.push({ name, description: variant.description, payload: payload ?? {}, options, root: document });
  }
  return found;
}


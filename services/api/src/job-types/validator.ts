import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import { compileJobSchema, InvalidJobSchemaError } from '@conveyor/jobs';
import { HttpError } from '../http-errors.js';

/** One failing place of a payload: the path from the request body's root, as zod issues have. */
export interface PayloadIssue {
  path: Array<string | number>;
  message: string;
  keyword: string;
}

/** Compiles a JSON Schema (packages/jobs' shared ajv) or throws 422 with ajv's reason. */
export function compileSchema(schema: unknown): ValidateFunction {
  try {
    return compileJobSchema(schema);
  } catch (error) {
    if (error instanceof InvalidJobSchemaError) throw new HttpError(422, 'invalid JSON Schema', { reason: error.reason });
    throw error;
  }
}

/** `/items/0/name` -> ['payload', 'items', 0, 'name'] (JSON Pointer unescaped). */
function pathOf(error: ErrorObject): Array<string | number> {
  const segments = error.instancePath === '' ? [] : error.instancePath.slice(1).split('/');
  const path: Array<string | number> = segments.map((s) => {
    const key = s.replaceAll('~1', '/').replaceAll('~0', '~');
    return /^(0|[1-9]\d*)$/.test(key) ? Number(key) : key;
  });
  // A missing property is reported on its parent; the client wants the property's own path.
  if (error.keyword === 'required') path.push((error.params as { missingProperty: string }).missingProperty);
  if (error.keyword === 'additionalProperties') path.push((error.params as { additionalProperty: string }).additionalProperty);
  return ['payload', ...path];
}

export function issuesOf(errors: readonly ErrorObject[] | null | undefined): PayloadIssue[] {
  return (errors ?? []).map((error) => ({ path: pathOf(error), message: error.message ?? 'is invalid', keyword: error.keyword }));
}

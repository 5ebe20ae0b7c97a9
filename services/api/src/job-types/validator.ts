import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { HttpError } from '../http-errors.js';

// ajv-formats is CommonJS: its plugin is the module itself under NodeNext.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020, options: { mode: 'fast' | 'full' }) => Ajv2020;

/**
 * One ajv instance for every registered schema. Strict mode refuses unknown keywords and formats
 * (a typo in a schema would otherwise accept everything); `addUsedSchema: false` keeps two schemas
 * with the same `$id` from colliding in the instance; `useDefaults` fills `default`s in, as zod did
 * for the built-ins; remote `$ref`s are never fetched (no loadSchema), so they fail to compile.
 * Formats in ajv-formats' fast mode (one regex each): its full `date-time` took 3 µs a value, six
 * times a whole report.generate payload in zod (scripts/tools/bench-validation.mjs); a schema that
 * wants calendar-exact dates adds a `pattern`, as the built-ins' schemas do.
 */
const ajv = addFormats(new Ajv2020({ strict: true, allErrors: true, addUsedSchema: false, useDefaults: true }), { mode: 'fast' });

/** One failing place of a payload: the path from the request body's root, as zod issues have. */
export interface PayloadIssue {
  path: Array<string | number>;
  message: string;
  keyword: string;
}

/**
 * Where a schema holds an own `__proto__` key, if anywhere. ajv skips that key without a word, and
 * any code that copies the schema by assignment would turn it into a prototype: refused outright.
 */
function protoKeyAt(value: unknown, path = ''): string | undefined {
  if (!value || typeof value !== 'object') return undefined;
  if (Object.hasOwn(value, '__proto__')) return `${path}/__proto__`;
  for (const [key, child] of Object.entries(value)) {
    const found = protoKeyAt(child, `${path}/${key}`);
    if (found) return found;
  }
  return undefined;
}

/** Compiles a JSON Schema or throws 422 with ajv's reason. */
export function compileSchema(schema: unknown): ValidateFunction {
  try {
    const proto = protoKeyAt(schema);
    if (proto) return refuse(`the key __proto__ is not allowed (at ${proto})`);
    return ajv.compile(schema as object);
  } catch (error) {
    if (error instanceof HttpError) throw error;
    // A schema nested deeper than the stack (RangeError) is refused like any other.
    return refuse(error instanceof Error ? error.message : String(error));
  }
}

function refuse(reason: string): never {
  throw new HttpError(422, 'invalid JSON Schema', { reason });
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

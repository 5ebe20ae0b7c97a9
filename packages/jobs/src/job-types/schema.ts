import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS: its plugin is the module itself under NodeNext.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020, options: { mode: 'fast' | 'full' }) => Ajv2020;

/**
 * One ajv instance for every registered schema, shared by the api (PUT /job-types, submits) and the
 * operator (JobType resources), so a schema is judged the same wherever it is registered. Strict
 * mode refuses unknown keywords and formats (a typo in a schema would otherwise accept everything);
 * `addUsedSchema: false` keeps two schemas with the same `$id` from colliding in the instance;
 * `useDefaults` fills `default`s in, as zod did for the built-ins; remote `$ref`s are never fetched
 * (no loadSchema), so they fail to compile. Formats in ajv-formats' fast mode (one regex each): its
 * full `date-time` took 3 µs a value, six times a whole report.generate payload in zod
 * (scripts/tools/bench-validation.mjs); a schema that wants calendar-exact dates adds a `pattern`.
 */
const ajv = addFormats(new Ajv2020({ strict: true, allErrors: true, addUsedSchema: false, useDefaults: true }), { mode: 'fast' });

/** A payload schema that cannot be registered; `reason` is ajv's (or ours for `__proto__`). */
export class InvalidJobSchemaError extends Error {
  constructor(readonly reason: string) {
    super(`invalid JSON Schema: ${reason}`);
    this.name = 'InvalidJobSchemaError';
  }
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

/** Compiles a job type's payload schema, or throws InvalidJobSchemaError with the reason. */
export function compileJobSchema(schema: unknown): ValidateFunction {
  const proto = protoKeyAt(schema);
  if (proto) throw new InvalidJobSchemaError(`the key __proto__ is not allowed (at ${proto})`);
  try {
    return ajv.compile(schema as object);
  } catch (error) {
    // A schema nested deeper than the stack (RangeError) is refused like any other.
    throw new InvalidJobSchemaError(error instanceof Error ? error.message : String(error));
  }
}

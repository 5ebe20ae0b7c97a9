/**
 * A form from a JSON Schema, as plain data: which inputs to show and how to turn what was typed
 * back into the JSON the schema describes. Anything the form cannot express (unions, arrays of
 * objects, free-form objects) becomes a JSON text field for that part, so every schema is usable.
 */
import { resolveRef, type JsonSchema } from './json-schema';

interface FieldBase {
  /** Dotted path from the root, also the input's name. */
  path: string;
  label: string;
  required: boolean;
  description?: string;
}

export type Field =
  | (FieldBase & { kind: 'text'; format?: string; minLength?: number; maxLength?: number; pattern?: string; initial: string })
  | (FieldBase & { kind: 'number'; integer: boolean; min?: number; max?: number; initial: string })
  | (FieldBase & { kind: 'boolean'; initial: boolean })
  | (FieldBase & { kind: 'choice'; options: string[]; initial: string })
  | (FieldBase & { kind: 'datetime'; initial: string })
  | (FieldBase & { kind: 'list'; itemKind: 'text' | 'number' | 'integer'; initial: string })
  | (FieldBase & { kind: 'group'; fields: Field[] })
  | (FieldBase & { kind: 'json'; initial: string });

export type FormValues = Record<string, string | boolean>;

const MAX_DEPTH = 4;

function typeOf(schema: JsonSchema): string | undefined {
  if (Array.isArray(schema.type)) return schema.type.find((t) => t !== 'null');
  return schema.type;
}

/** "maxAttempts" -> "Max attempts", "from_date" -> "From date". */
export function labelOf(name: string): string {
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[_.-]+/g, ' ')
    .trim()
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function initialText(value: unknown): string {
  return value === undefined || value === null ? '' : typeof value === 'string' ? value : JSON.stringify(value);
}

function fieldOf(name: string, path: string, raw: JsonSchema, required: boolean, root: unknown, depth: number): Field {
  const schema = resolveRef(raw, root);
  const base = { path, label: schema.title ?? labelOf(name), required, ...(schema.description ? { description: schema.description } : {}) };
  const type = typeOf(schema);
  if (schema.enum && schema.enum.every((v) => typeof v === 'string')) {
    return { ...base, kind: 'choice', options: schema.enum as string[], initial: initialText(schema.default) };
  }
  // A field whose other forms are deprecated (priority: a class, or the old integer) offers its current one.
  const current = (schema.anyOf ?? schema.oneOf)?.filter((variant) => !resolveRef(variant, root).deprecated);
  if (current?.length === 1 && current.length < (schema.anyOf ?? schema.oneOf)!.length) {
    const { anyOf: _any, oneOf: _one, ...rest } = schema;
    return fieldOf(name, path, { ...resolveRef(current[0]!, root), ...rest }, required, root, depth);
  }
  if (schema.const !== undefined || schema.oneOf || schema.anyOf || schema.allOf) {
    return { ...base, kind: 'json', initial: schema.const !== undefined ? JSON.stringify(schema.const) : initialText(schema.default) };
  }
  switch (type) {
    case 'string':
      if (schema.format === 'date-time') return { ...base, kind: 'datetime', initial: '' };
      return {
        ...base,
        kind: 'text',
        ...(schema.format ? { format: schema.format } : {}),
        ...(schema.minLength !== undefined ? { minLength: schema.minLength } : {}),
        ...(schema.maxLength !== undefined ? { maxLength: schema.maxLength } : {}),
        ...(schema.pattern !== undefined ? { pattern: schema.pattern } : {}),
        initial: initialText(schema.default),
      };
    case 'integer':
    case 'number': {
      const min = schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum : undefined);
      const max = schema.maximum ?? (schema.exclusiveMaximum !== undefined ? schema.exclusiveMaximum : undefined);
      return {
        ...base,
        kind: 'number',
        integer: type === 'integer',
        ...(min !== undefined ? { min } : {}),
        ...(max !== undefined ? { max } : {}),
        initial: initialText(schema.default),
      };
    }
    case 'boolean':
      return { ...base, kind: 'boolean', initial: schema.default === true };
    case 'array': {
      const items = schema.items ? resolveRef(schema.items, root) : {};
      const itemType = typeOf(items);
      if ((itemType === 'string' && !items.enum) || itemType === 'number' || itemType === 'integer') {
        const initial = Array.isArray(schema.default) ? schema.default.join(', ') : '';
        return { ...base, kind: 'list', itemKind: itemType === 'string' ? 'text' : itemType, initial };
      }
      return { ...base, kind: 'json', initial: initialText(schema.default) };
    }
    case 'object': {
      const properties = Object.entries(schema.properties ?? {});
      if (properties.length === 0 || depth >= MAX_DEPTH) {
        return { ...base, kind: 'json', initial: initialText(schema.default ?? (properties.length === 0 ? {} : undefined)) };
      }
      const requiredNames = new Set(schema.required ?? []);
      const fields = properties.map(([child, childSchema]) => fieldOf(child, `${path}.${child}`, childSchema, requiredNames.has(child), root, depth + 1));
      return { ...base, kind: 'group', fields };
    }
    default:
      return { ...base, kind: 'json', initial: initialText(schema.default) };
  }
}

/** The fields of a payload schema; the root path is `payload`. */
export function fieldsOf(schema: JsonSchema, root: unknown, rootPath = 'payload'): Field {
  return fieldOf(rootPath, rootPath, schema, true, root, 0);
}

/** Every input's starting value, by path. */
export function initialValues(field: Field, values: FormValues = {}): FormValues {
  if (field.kind === 'group') {
    for (const child of field.fields) initialValues(child, values);
  } else {
    values[field.path] = field.initial;
  }
  return values;
}

/** `<input type=datetime-local>` gives local wall time without a zone: make it an instant. */
export function localToIso(local: string): string | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?$/.test(local)) return null;
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/** The other way, for showing an instant in a datetime-local input. */
export function isoToLocal(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

export interface Collected {
  value: unknown;
  /** Messages by field path; empty when the value is complete. */
  errors: Record<string, string>;
}

function collect(field: Field, values: FormValues, errors: Record<string, string>): { present: boolean; value?: unknown } {
  const raw = values[field.path];
  const missing = () => {
    if (field.required) errors[field.path] = 'Required.';
    return { present: false };
  };
  switch (field.kind) {
    case 'group': {
      const object: Record<string, unknown> = {};
      const inner: Record<string, string> = {};
      let any = false;
      for (const child of field.fields) {
        const got = collect(child, values, inner);
        // A checkbox always has a value: only a ticked one says the group was filled in.
        if (got.present && (child.kind !== 'boolean' || got.value === true)) any = true;
        if (got.present) object[child.path.slice(field.path.length + 1)] = got.value;
      }
      // An optional group left empty is left out, with its required fields; a required one is an object, even if empty.
      if (!any && !field.required) return { present: false };
      Object.assign(errors, inner);
      return { present: true, value: object };
    }
    case 'boolean':
      return { present: true, value: raw === true };
    case 'number': {
      const text = String(raw ?? '').trim();
      if (text === '') return missing();
      const number = Number(text);
      if (!Number.isFinite(number) || (field.integer && !Number.isInteger(number))) {
        errors[field.path] = field.integer ? 'Enter a whole number.' : 'Enter a number.';
        return { present: false };
      }
      if (field.min !== undefined && number < field.min) errors[field.path] = `At least ${field.min}.`;
      if (field.max !== undefined && number > field.max) errors[field.path] = `At most ${field.max}.`;
      return { present: true, value: number };
    }
    case 'datetime': {
      const text = String(raw ?? '').trim();
      if (text === '') return missing();
      const iso = localToIso(text);
      if (!iso) {
        errors[field.path] = 'Enter a date and time.';
        return { present: false };
      }
      return { present: true, value: iso };
    }
    case 'list': {
      const text = String(raw ?? '').trim();
      if (text === '') return missing();
      const items = text.split(',').map((s) => s.trim()).filter(Boolean);
      if (field.itemKind === 'text') return { present: true, value: items };
      const numbers = items.map(Number);
      if (numbers.some((n) => !Number.isFinite(n) || (field.itemKind === 'integer' && !Number.isInteger(n)))) {
        errors[field.path] = 'Enter numbers separated by commas.';
        return { present: false };
      }
      return { present: true, value: numbers };
    }
    case 'json': {
      const text = String(raw ?? '').trim();
      if (text === '') return missing();
      try {
        return { present: true, value: JSON.parse(text) };
      } catch (error) {
        errors[field.path] = `Not valid JSON: ${(error as Error).message}`;
        return { present: false };
      }
    }
    case 'text':
    case 'choice': {
      const text = String(raw ?? '');
      if (text === '') return missing();
      return { present: true, value: text };
    }
  }
}

/** The JSON value the form describes, or the fields that stop it. */
export function collectValue(field: Field, values: FormValues): Collected {
  const errors: Record<string, string> = {};
  const got = collect(field, values, errors);
  return { value: got.present ? got.value : field.kind === 'group' ? {} : undefined, errors };
}

/** Maps the API's validation issues (`details: [{path, message}]`) onto form paths under `prefix`. */
export function issuesByPath(details: unknown, prefix = ''): Record<string, string> {
  const found: Record<string, string> = {};
  if (!Array.isArray(details)) return found;
  for (const issue of details as Array<{ path?: unknown; instancePath?: unknown; message?: unknown }>) {
    if (!issue || typeof issue !== 'object') continue;
    let parts: string[] | undefined;
    if (Array.isArray(issue.path)) parts = issue.path.map(String);
    else if (typeof issue.path === 'string') parts = issue.path.split('.').filter(Boolean);
    else if (typeof issue.instancePath === 'string') parts = issue.instancePath.split('/').filter(Boolean);
    if (!parts || typeof issue.message !== 'string') continue;
    const key = [prefix, ...parts].filter(Boolean).join('.');
    found[key] ??= issue.message;
  }
  return found;
}

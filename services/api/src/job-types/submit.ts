import { jobType } from '@conveyor/jobs';
import { HttpError } from '../http-errors.js';
import type { JobTypeRegistry } from './registry.js';
import { issuesOf } from './validator.js';

/** Created only with their reservation (POST /points/reservations), or a client could grant itself points. */
const NOT_SUBMITTABLE = new Set(['points.grant']);

/**
 * The registered type a submit names, at the version it names or the latest: every refusal is 422
 * naming the type, with `details` pointing at the field (`type` or `typeVersion`).
 */
export function resolveType(registry: JobTypeRegistry, type: string, version: number | undefined) {
  const refuse = (message: string, field = 'type') => new HttpError(422, message, [{ path: [field], message }]);
  if (NOT_SUBMITTABLE.has(type)) throw refuse(`${type} jobs are created by POST /points/reservations`);
  const found = registry.resolve(type, version);
  switch (found.kind) {
    case 'found':
      return found;
    case 'unknown':
      throw refuse(`unknown job type "${type}"`);
    case 'retired':
      throw refuse(`job type "${type}" is retired`);
    case 'unknown-version':
      throw refuse(`job type "${type}" has no version ${version} (latest: ${found.latestVersion})`, 'typeVersion');
  }
}

/**
 * Checks a payload against the registered JSON Schema (ajv, compiled once per version), then, for
 * a built-in type, against its handler's zod schema too: what JSON Schema cannot say
 * (report.generate's from <= to) and zod's defaults stay as they were. Failures are 422 with the
 * failing paths.
 */
export function validPayload(resolved: ReturnType<typeof resolveType>, payload: unknown): unknown {
  const { type, validate } = resolved;
  // ajv's useDefaults fills `default`s into the payload itself, as zod's output did: the parsed
  // body belongs to this request alone, and a copy would cost more than the validation.
  const copy = payload;
  if (!validate(copy)) {
    throw new HttpError(422, `payload does not match the schema of ${type.name} v${type.version}`, issuesOf(validate.errors));
  }
  const builtin = jobType(type.name);
  if (!builtin) return copy;
  const parsed = builtin.payload.safeParse(copy);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => ({ path: ['payload', ...i.path], message: i.message, keyword: i.code }));
  throw new HttpError(422, `payload does not match the schema of ${type.name} v${type.version}`, issues);
}

import { describe, expect, it } from 'vitest';
import { collectValue, fieldsOf, initialValues, issuesByPath, labelOf, localToIso, type Field } from './schema-form';

const report = {
  type: 'object',
  properties: {
    from: { type: 'string', format: 'date-time' },
    format: { type: 'string', enum: ['csv', 'json'], default: 'json' },
    detail: { type: 'boolean' },
    limit: { type: 'integer', minimum: 1, maximum: 10 },
    labels: { type: 'array', items: { type: 'string' } },
    filter: { type: 'object', properties: { tenant: { type: 'string' } }, required: ['tenant'] },
    extra: { oneOf: [{ type: 'string' }, { type: 'number' }] },
    priority: { anyOf: [{ type: 'string', enum: ['high', 'normal', 'low'] }, { type: 'integer', deprecated: true }], description: 'Priority class' },
  },
  required: ['limit'],
};

function byPath(field: Field): Record<string, Field> {
  const found: Record<string, Field> = {};
  const walk = (f: Field) => {
    found[f.path] = f;
    if (f.kind === 'group') f.fields.forEach(walk);
  };
  walk(field);
  return found;
}

describe('a form from a JSON Schema', () => {
  it('picks an input per schema shape, with constraints, labels and requiredness', () => {
    const fields = byPath(fieldsOf(report, report));
    expect(fields.payload!.kind).toBe('group');
    expect(fields['payload.from']).toMatchObject({ kind: 'datetime', label: 'From', required: false });
    expect(fields['payload.format']).toMatchObject({ kind: 'choice', options: ['csv', 'json'], initial: 'json' });
    expect(fields['payload.detail']).toMatchObject({ kind: 'boolean', initial: false });
    expect(fields['payload.limit']).toMatchObject({ kind: 'number', integer: true, min: 1, max: 10, required: true });
    expect(fields['payload.labels']).toMatchObject({ kind: 'list', itemKind: 'text' });
    expect(fields['payload.filter.tenant']).toMatchObject({ kind: 'text', required: true });
    expect(fields['payload.extra']).toMatchObject({ kind: 'json' });
    // The deprecated integer form is left out: the classes are offered as a choice.
    expect(fields['payload.priority']).toMatchObject({ kind: 'choice', options: ['high', 'normal', 'low'], description: 'Priority class' });
  });

  it('turns what was typed back into the JSON the schema describes, leaving out empty optional fields', () => {
    const field = fieldsOf(report, report);
    const values = { ...initialValues(field), 'payload.limit': '3', 'payload.detail': true, 'payload.labels': 'a, b ,,c', 'payload.extra': '42' };
    const { value, errors } = collectValue(field, values);
    expect(errors).toEqual({});
    expect(value).toEqual({ format: 'json', detail: true, limit: 3, labels: ['a', 'b', 'c'], extra: 42 });
  });

  it('names each field that stops the value: missing, out of range, not a whole number, bad JSON', () => {
    const field = fieldsOf(report, report);
    const base = initialValues(field);
    expect(collectValue(field, base).errors).toEqual({ 'payload.limit': 'Required.' });
    expect(collectValue(field, { ...base, 'payload.limit': '11' }).errors).toEqual({ 'payload.limit': 'At most 10.' });
    expect(collectValue(field, { ...base, 'payload.limit': '2.5' }).errors).toEqual({ 'payload.limit': 'Enter a whole number.' });
    const badJson = collectValue(field, { ...base, 'payload.limit': '1', 'payload.extra': '{nope' }).errors['payload.extra'];
    expect(badJson).toMatch(/^Not valid JSON/);
    // A required field inside an optional group is required once the group is filled in.
    expect(collectValue(field, { ...base, 'payload.limit': '1', 'payload.filter.tenant': 'acme' }).value).toMatchObject({ filter: { tenant: 'acme' } });
  });

  it('gives a free-form object (no properties) a JSON field that starts as {}', () => {
    const noop = { type: 'object', properties: {}, additionalProperties: {} };
    const field = fieldsOf(noop, noop);
    expect(field).toMatchObject({ kind: 'json', initial: '{}' });
    expect(collectValue(field, initialValues(field)).value).toEqual({});
  });

  it('follows $ref into the document', () => {
    const document = { components: { schemas: { Sleep: { type: 'object', properties: { ms: { type: 'integer', minimum: 0 } }, required: ['ms'] } } } };
    const field = fieldsOf({ $ref: '#/components/schemas/Sleep' }, document);
    expect(byPath(field)['payload.ms']).toMatchObject({ kind: 'number', min: 0, required: true });
  });

  it('makes datetime-local wall time an instant', () => {
    const iso = localToIso('2030-01-02T03:04:05');
    expect(iso).toBe(new Date(2030, 0, 2, 3, 4, 5).toISOString());
    expect(localToIso('yesterday')).toBeNull();
  });

  it('maps the API validation issues (zod paths or JSON pointers) onto field paths', () => {
    expect(issuesByPath([{ path: ['payload', 'ms'], message: 'Too small' }, { instancePath: '/payload/format', message: 'bad' }, { path: 'runAt', message: 'Invalid' }])).toEqual({
      'payload.ms': 'Too small',
      'payload.format': 'bad',
      runAt: 'Invalid',
    });
    expect(issuesByPath('not a list')).toEqual({});
  });

  it('labels camelCase and snake_case names as words', () => {
    expect(labelOf('maxAttempts')).toBe('Max attempts');
    expect(labelOf('callback_url')).toBe('Callback url');
  });
});

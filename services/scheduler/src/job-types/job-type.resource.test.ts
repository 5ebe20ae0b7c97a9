import { describe, expect, it } from 'vitest';
import { olderThan } from '../operator/controller.js';
import { checkSpec, typeNameOf, type JobTypeObject } from './job-type.resource.js';

const schema = { type: 'object' };
const pools = new Set(['default', 'team-text']);
const obj = (name: string, spec: Record<string, unknown>, created = '2030-01-01T00:00:00Z', namespace = 'a'): JobTypeObject => ({
  metadata: { name, namespace, creationTimestamp: new Date(created) },
  spec,
});

describe('JobType resources', () => {
  it('names the type by spec.name, else by the object', () => {
    expect(typeNameOf(obj('billing-send', { name: 'billing.send_now' }))).toBe('billing.send_now');
    expect(typeNameOf(obj('text.count', {}))).toBe('text.count');
  });

  it('parses a spec with the api rules and fills its defaults', () => {
    expect(checkSpec(obj('text.count', { schema, pool: 'team-text' }), pools)).toEqual({
      ok: true,
      name: 'text.count',
      spec: { schema, pool: 'team-text', maxAttempts: 3, timeoutSeconds: 300, priority: 'normal', maxPayloadBytes: 65536, resultRetentionSeconds: null },
    });
  });

  it.each([
    ['a built-in', obj('noop', { schema, pool: 'default' }), 'BuiltIn', 'noop is built in: the release registers it'],
    ['an unknown pool', obj('x.y', { schema, pool: 'other' }), 'UnknownPool', 'pool other is neither a platform pool (default, reports) nor a WorkerPool'],
    ['a bad name', obj('x', { name: 'X Y', schema, pool: 'default' }), 'InvalidSpec', /^name: lowercase letters/],
    ['an out-of-range field', obj('x.y', { schema, pool: 'default', maxAttempts: 0 }), 'InvalidSpec', /^maxAttempts: Too small/],
    ['an unknown field', obj('x.y', { schema, pool: 'default', version: 2 }), 'InvalidSpec', /Unrecognized key: "version"/],
  ])('refuses %s with its reason', (_case, o, reason, message) => {
    const check = checkSpec(o, pools);
    expect(check).toMatchObject({ ok: false, reason });
    expect(check.ok ? '' : check.message).toMatch(message);
  });

  it('orders claims by creation time, then by namespace/name, so every replica picks the same owner', () => {
    expect(olderThan(obj('b', {}, '2030-01-01T00:00:00Z'), obj('a', {}, '2030-01-02T00:00:00Z'))).toBe(true);
    expect(olderThan(obj('b', {}), obj('a', {}))).toBe(false);
    expect(olderThan(obj('a', {}), obj('b', {}))).toBe(true);
  });
});

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { loadYaml, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { chartCrdFixture, rejection, type ConveyorResource } from './crds.js';

const { ref, objects, root: ROOT, make: jobType, create } = chartCrdFixture('jobtypes.conveyor.dev.yaml', 'JobType', 'jobtypes');
type JobType = ConveyorResource;
const schema = { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] };
const valid = { schema, pool: 'default' };

describe('JobType CRD on a real kube-apiserver', () => {
  it('accepts a valid JobType, keeps the schema as written and fills the defaults', async () => {
    const created = await create(jobType('text.char-count', { ...valid, schema: { ...schema, $defs: { x: { type: 'integer', minimum: 1 } } } }));
    expect(created.spec).toEqual({
      schema: { ...schema, $defs: { x: { type: 'integer', minimum: 1 } } },
      pool: 'default',
      maxAttempts: 3,
      timeoutSeconds: 300,
      priority: 'normal',
      maxPayloadBytes: 65536,
    });
    // A type name with "_" cannot be an object name: it goes in spec.name.
    const named = await create(jobType('billing-invoice', { ...valid, name: 'billing.invoice_send', resultRetentionSeconds: 3600 }));
    expect(named.spec).toMatchObject({ name: 'billing.invoice_send', resultRetentionSeconds: 3600 });
  });

  it("accepts the example team worker's manifest (examples/team-worker/k8s/jobtype.yaml) as written", async () => {
    const example = loadYaml<JobType>(await readFile(path.join(ROOT, 'examples/team-worker/k8s/jobtype.yaml'), 'utf8'));
    // The example lives in the release's namespace; here every object goes to "default".
    const created = await create({ ...example, metadata: { name: example.metadata!.name } });
    expect(created.spec).toEqual({ ...example.spec, maxPayloadBytes: 65536 });
  });

  it.each([
    ['a missing schema', { pool: 'default' }, /spec\.schema: Required value/],
    ['a missing pool', { schema }, /spec\.pool: Required value/],
    ['an empty schema', { ...valid, schema: {} }, /spec\.schema: Invalid value: 0: spec\.schema in body should have at least 1 properties/],
    ['a schema that is not an object', { ...valid, schema: 'string' }, /spec\.schema: Invalid value: "string"/],
    ['zero maxAttempts', { ...valid, maxAttempts: 0 }, /maxAttempts must be between 1 and 100/],
    ['a negative timeoutSeconds', { ...valid, timeoutSeconds: -5 }, /timeoutSeconds must be between 1 and 86400/],
    ['a priority that is no class', { ...valid, priority: 'urgent' }, /supported values: "high", "normal", "low"/],
    ['a one-byte payload limit', { ...valid, maxPayloadBytes: 1 }, /maxPayloadBytes must be between 2 and 1048576/],
    ['a retention of a second', { ...valid, resultRetentionSeconds: 1 }, /resultRetentionSeconds must be between 60/],
    ['a retention shorter than the timeout', { ...valid, timeoutSeconds: 600, resultRetentionSeconds: 120 }, /must not be shorter than timeoutSeconds/],
    ['a spec.name that is not a type name', { ...valid, name: 'Billing Invoice' }, /spec\.name/],
    ['a pool with capitals', { ...valid, pool: 'Team' }, /spec\.pool/],
    ['maxAttempts as a string', { ...valid, maxAttempts: '3' }, /spec\.maxAttempts/],
  ])('refuses %s', async (_case, spec, message) => {
    const name = `bad-${Math.random().toString(36).slice(2, 8)}`;
    const { code, text } = await rejection(create(jobType(name, spec)));
    expect(code).toBe(422);
    expect(text).toMatch(message);
  });

  it('refuses an object name that is no type name unless spec.name gives one', async () => {
    // "a--b" is a valid object name (DNS subdomain) but not a job type name.
    const { code, text } = await rejection(create(jobType('a--b', valid)));
    expect(code).toBe(422);
    expect(text).toMatch(/metadata\.name is not a job type name/);
    expect((await create(jobType('a--c', { ...valid, name: 'a.c' }))).spec.name).toBe('a.c');
  });

  it('refuses unknown fields under strict validation', async () => {
    const { code, text } = await rejection(create(jobType('extra', { ...valid, version: 2 })));
    expect(code).toBe(400);
    expect(text).toMatch(/unknown field "spec\.version"/);
  });

  it('keeps spec.name immutable, while other fields may change', async () => {
    await create(jobType('rename-me', { ...valid, name: 'rename.one' }));
    const patch = (spec: Record<string, unknown>) =>
      objects().patchNamespacedCustomObject({ ...ref, name: 'rename-me', body: { spec } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    const renamed = await rejection(patch({ name: 'rename.two' }));
    expect(renamed.code).toBe(422);
    expect(renamed.text).toMatch(/spec\.name is immutable/);
    const unnamed = await rejection(patch({ name: null }));
    expect(unnamed.text).toMatch(/spec\.name is immutable/);
    const changed = (await patch({ maxAttempts: 7 })) as JobType;
    expect(changed.spec.maxAttempts).toBe(7);
    expect(changed.metadata?.generation).toBe(2);
  });
});

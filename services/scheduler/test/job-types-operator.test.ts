import { PatchStrategy, setHeaderOptions, type CustomObjectsApi, type KubernetesObject } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pool } from '@conveyor/platform';
import { BUILD_TIMEOUT_MS } from '../../../test/apiserver/harness.js';
import { startService, type RunningService } from '../../../test/support/service-process.js';
import { waitFor } from '../../../test/support/wait.js';
import { startKubernetesFixture, type KubernetesFixture } from './kubernetes-fixture.js';

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  observedGeneration: number;
}
interface JobType extends KubernetesObject {
  spec: Record<string, unknown>;
  status?: { observedGeneration?: number; typeName?: string; version?: number; conditions?: Condition[] };
}

const schema = { type: 'object', properties: { text: { type: 'string', minLength: 1 } }, required: ['text'], additionalProperties: false };

describe('the scheduler (operator) reconciles JobTypes from a real kube-apiserver into the Postgres registry', () => {
  let fixture: KubernetesFixture;
  let pool: Pool;
  let objects: CustomObjectsApi;
  let namespace: string;
  let scheduler: RunningService | undefined;
  const ref = () => ({ group: 'conveyor.dev', version: 'v1alpha1', namespace, plural: 'jobtypes' });
  const start = async () => {
    scheduler = await startService('scheduler', { ...fixture.env, HOSTNAME: 'operator', RECONCILE_INTERVAL_MS: '60000' });
  };

  beforeAll(async () => {
    fixture = await startKubernetesFixture('jt');
    ({ pool, objects, namespace } = fixture);
    await start();
  }, BUILD_TIMEOUT_MS + 120_000);

  afterAll(async () => {
    await scheduler?.stop('SIGKILL');
    await fixture?.stop();
  }, 60_000);

  const create = (name: string, spec: Record<string, unknown>) =>
    objects.createNamespacedCustomObject({ ...ref(), body: { apiVersion: 'conveyor.dev/v1alpha1', kind: 'JobType', metadata: { name }, spec } }) as Promise<JobType>;
  const read = (name: string) => objects.getNamespacedCustomObject({ ...ref(), name }) as Promise<JobType>;
  const patch = (name: string, body: Record<string, unknown>) =>
    objects.patchNamespacedCustomObject({ ...ref(), name, body }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)) as Promise<JobType>;
  const remove = (name: string) => objects.deleteNamespacedCustomObject({ ...ref(), name });
  const gone = async (name: string) => read(name).then(() => false, (error: { code?: number }) => error.code === 404);
  /** The Registered condition once it describes `generation`. */
  const registered = (name: string, generation: number) =>
    waitFor(`JobType ${name} reconciled at generation ${generation}`, async () => {
      const obj = await read(name);
      const condition = obj.status?.conditions?.find((c) => c.type === 'Registered');
      return condition && obj.status?.observedGeneration === generation && condition.observedGeneration === generation ? { obj, condition } : undefined;
    });
  const versions = async (name: string) =>
    (
      await pool.query<{ version: number; schema: unknown; pool: string; max_attempts: number; timeout_seconds: number; result_retention_seconds: number | null }>(
        'SELECT version, schema, pool, max_attempts, timeout_seconds, result_retention_seconds FROM job_type_versions WHERE name = $1 ORDER BY version',
        [name],
      )
    ).rows;
  const head = async (name: string) =>
    (await pool.query<{ latest_version: number; retired: boolean }>('SELECT latest_version, retired_at IS NOT NULL AS retired FROM job_types WHERE name = $1', [name])).rows[0];

  it('registers a valid JobType as a version, reports Registered=True, and announces it to the api replicas', async () => {
    const listener = await pool.connect();
    const announced: string[] = [];
    listener.on('notification', (n) => announced.push(n.payload ?? ''));
    await listener.query('LISTEN conveyor_job_types');
    try {
      await create('text.word-count', { schema, pool: 'default', maxAttempts: 5, timeoutSeconds: 30, resultRetentionSeconds: 3600 });
      const { obj, condition } = await registered('text.word-count', 1);
      expect(condition).toMatchObject({ status: 'True', reason: 'Registered', message: 'registered as version 1' });
      expect(obj.status).toMatchObject({ typeName: 'text.word-count', version: 1, observedGeneration: 1 });
      // The finalizer makes a deletion wait until the type is retired.
      expect(obj.metadata?.finalizers).toEqual(['conveyor.dev/job-type']);
      expect(await versions('text.word-count')).toEqual([
        { version: 1, schema, pool: 'default', max_attempts: 5, timeout_seconds: 30, result_retention_seconds: 3600 },
      ]);
      await waitFor('the announcement', () => announced.includes('text.word-count'));
    } finally {
      listener.release();
    }
  });

  it('makes a changed spec the next version, and changes nothing for an update that leaves the spec alone', async () => {
    await patch('text.word-count', { spec: { maxAttempts: 2 } });
    const { obj, condition } = await registered('text.word-count', 2);
    expect(condition).toMatchObject({ status: 'True', reason: 'Registered', message: 'registered as version 2' });
    expect(obj.status?.version).toBe(2);
    expect((await versions('text.word-count')).map((v) => [v.version, v.max_attempts])).toEqual([
      [1, 5],
      [2, 2],
    ]);

    // A label is no spec change: the reconcile it triggers finds the spec equal to the latest version.
    const labelled = await patch('text.word-count', { metadata: { labels: { team: 'text' } } });
    expect(labelled.metadata?.generation).toBe(2);
    await new Promise((r) => setTimeout(r, 2000));
    expect((await versions('text.word-count')).map((v) => v.version)).toEqual([1, 2]);
    expect((await read('text.word-count')).status?.version).toBe(2);
  });

  it.each([
    ['a JSON Schema ajv refuses', 'bad.schema', { schema: { type: 'object', properties: { n: { type: 'integr' } } }, pool: 'default' }, 'InvalidSchema', /data\/properties\/n\/type must be equal to one of the allowed values/],
    ['an unknown keyword (strict mode)', 'bad.keyword', { schema: { type: 'object', requird: ['x'] }, pool: 'default' }, 'InvalidSchema', /strict mode: unknown keyword: "requird"/],
    ['a pool nobody runs', 'bad.pool', { schema, pool: 'nobody' }, 'UnknownPool', /pool nobody is neither a platform pool \(default, reports\) nor a WorkerPool/],
    ['a built-in type', 'noop', { schema, pool: 'default' }, 'BuiltIn', /noop is built in/],
  ])('reports %s as Registered=False with the reason, registering nothing', async (_case, name, spec, reason, message) => {
    const builtinVersions = name === 'noop' ? (await versions('noop')).length : 0;
    await create(name, spec);
    const { obj, condition } = await registered(name, 1);
    expect(condition).toMatchObject({ status: 'False', reason });
    expect(condition.message).toMatch(message);
    expect(obj.status?.version).toBeUndefined();
    expect(await versions(name)).toHaveLength(builtinVersions);
  });

  it('turns Registered=True once a bad schema is fixed', async () => {
    // A merge patch merges into the stored schema: this fixes the one bad keyword.
    await patch('bad.schema', { spec: { schema: { properties: { n: { type: 'integer' } } } } });
    const { condition } = await registered('bad.schema', 2);
    expect(condition).toMatchObject({ status: 'True', reason: 'Registered', message: 'registered as version 1' });
    expect((await versions('bad.schema')).map((v) => v.schema)).toEqual([{ type: 'object', properties: { n: { type: 'integer' } } }]);
  });

  it('retires the type when its JobType is deleted, as DELETE /job-types does', async () => {
    expect(await head('text.word-count')).toEqual({ latest_version: 2, retired: false });
    await remove('text.word-count');
    await waitFor('the JobType gone', () => gone('text.word-count'));
    expect(await head('text.word-count')).toEqual({ latest_version: 2, retired: true });
    // Versions stay: jobs accepted before keep theirs.
    expect(await versions('text.word-count')).toHaveLength(2);
  });

  it('lets only the oldest of two JobTypes naming one type register it, and hands over when it is deleted', async () => {
    await create('shared-a', { name: 'shared.type', schema, pool: 'default', maxAttempts: 1 });
    expect((await registered('shared-a', 1)).condition.status).toBe('True');
    await create('shared-b', { name: 'shared.type', schema, pool: 'default', maxAttempts: 9 });
    const { condition } = await registered('shared-b', 1);
    expect(condition).toMatchObject({ status: 'False', reason: 'NameConflict' });
    expect(condition.message).toBe(`job type shared.type is declared by JobType ${namespace}/shared-a, which is older`);
    expect((await versions('shared.type')).map((v) => v.max_attempts)).toEqual([1]);

    // The owner's deletion retires the type; the other JobType then owns it and revives it as a new version.
    await remove('shared-a');
    await waitFor('shared-b registered', async () => (await read('shared-b')).status?.conditions?.find((c) => c.status === 'True'));
    expect((await versions('shared.type')).map((v) => v.max_attempts)).toEqual([1, 9]);
    expect(await head('shared.type')).toEqual({ latest_version: 2, retired: false });
  });

  it('retires a type whose JobType was deleted while no operator ran (the finalizer held it)', async () => {
    await create('offline.delete', { schema, pool: 'reports' });
    await registered('offline.delete', 1);
    await scheduler!.stop('SIGTERM');
    await remove('offline.delete');
    const terminating = await read('offline.delete');
    expect(terminating.metadata?.deletionTimestamp).toBeDefined();
    expect(await head('offline.delete')).toEqual({ latest_version: 1, retired: false });

    await start();
    await waitFor('the JobType gone', () => gone('offline.delete'), 60_000);
    expect(await head('offline.delete')).toEqual({ latest_version: 1, retired: true });
  });
});

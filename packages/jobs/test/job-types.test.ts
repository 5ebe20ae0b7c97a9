import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createPool, type Pool } from '@conveyor/platform';
import { builtinSpecs, findVersion, JOB_TYPES, JOB_TYPES_CHANNEL, migrateJobsSchema, poolOf, registerJobType, type JobTypeSpec } from '@conveyor/jobs';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.js';

describe('the job type registry against real Postgres', () => {
  let db: TestDatabase;
  let pool: Pool;
  const spec: JobTypeSpec = {
    schema: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
    pool: 'default',
    maxAttempts: 3,
    timeoutSeconds: 60,
    priority: 'normal',
    maxPayloadBytes: 1024,
    resultRetentionSeconds: null,
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 12 });
    await migrateJobsSchema(pool);
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  it('registers every built-in at migration as version 1, from its zod schema, pool and defaults; a second migration adds nothing', async () => {
    const { rows } = await pool.query<{ name: string; latest_version: number }>('SELECT name, latest_version FROM job_types ORDER BY name');
    expect(rows).toEqual([...JOB_TYPES.keys()].sort().map((name) => ({ name, latest_version: 1 })));
    for (const [name, type] of JOB_TYPES) {
      const v1 = (await findVersion(pool, name, 1))!;
      expect(v1.schema).toEqual(z.toJSONSchema(type.payload, { io: 'input' }));
      expect(v1).toMatchObject({ pool: poolOf(name)!.name, maxAttempts: 3, timeoutSeconds: 300, priority: 'normal', maxPayloadBytes: type.maxPayloadBytes });
    }
    await migrateJobsSchema(pool);
    const again = await pool.query('SELECT count(*)::int AS n FROM job_type_versions');
    expect(again.rows[0].n).toBe(builtinSpecs().length);
  });

  it('is idempotent for an equal spec (key order aside) and adds a version for a changed one', async () => {
    expect(await registerJobType(pool, 'billing.invoice', spec)).toEqual({ version: 1, created: true });
    const reordered = { ...spec, schema: { required: ['id'], properties: { id: { type: 'string' } }, type: 'object' } };
    expect(await registerJobType(pool, 'billing.invoice', reordered)).toEqual({ version: 1, created: false });
    expect(await registerJobType(pool, 'billing.invoice', { ...spec, maxAttempts: 5 })).toEqual({ version: 2, created: true });
    expect((await findVersion(pool, 'billing.invoice', 1))!.maxAttempts).toBe(3);
  });

  it('gives concurrent registrations of one name distinct, consecutive versions', async () => {
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, (_, i) => registerJobType(pool, 'race.type', { ...spec, maxAttempts: i + 1 })),
    );
    expect(outcomes.map((o) => o.version).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('revives a retired type with a new version even when the spec is unchanged', async () => {
    await registerJobType(pool, 'old.type', spec);
    await pool.query('UPDATE job_types SET retired_at = now() WHERE name = $1', ['old.type']);
    expect(await registerJobType(pool, 'old.type', spec)).toEqual({ version: 2, created: true });
    const { rows } = await pool.query('SELECT retired_at FROM job_types WHERE name = $1', ['old.type']);
    expect(rows[0].retired_at).toBeNull();
    expect(JOB_TYPES_CHANNEL).toBe('conveyor_job_types');
  });
});

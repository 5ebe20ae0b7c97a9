import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, migrate, readMigrations, type Pool } from '@conveyor/platform';
import { MIGRATIONS_DIR } from '@conveyor/jobs';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.js';

describe('the jobs schema migrations against real Postgres', () => {
  let db: TestDatabase;
  let pool: Pool;

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 4 });
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  it('apply every migration to an empty database, then nothing on a second run', async () => {
    const expected = (await readMigrations(MIGRATIONS_DIR)).map((m) => m.version);
    expect(expected.length).toBeGreaterThan(0);
    expect(await migrate(pool, MIGRATIONS_DIR)).toEqual(expected);
    expect(await migrate(pool, MIGRATIONS_DIR)).toEqual([]);
    const { rows } = await pool.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
    );
    expect(rows.map((r) => r.table_name)).toEqual(expect.arrayContaining(['jobs', 'job_events', 'schema_migrations']));
  });

  it('concurrent migrators apply each migration once', async () => {
    const other = await createTestDatabase();
    const otherPool = createPool({ connectionString: other.url, max: 4 });
    try {
      const results = await Promise.all([migrate(otherPool, MIGRATIONS_DIR), migrate(otherPool, MIGRATIONS_DIR)]);
      const total = (await readMigrations(MIGRATIONS_DIR)).length;
      expect(results.flat()).toHaveLength(total);
    } finally {
      await otherPool.end();
      await other.drop();
    }
  });
});

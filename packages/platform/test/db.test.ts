import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createPool, isDatabaseUnavailable, migrate, readMigrations } from '@conveyor/platform';
import { freePort } from '../../../test/support/service-process.js';
import { createTestDatabase } from '../../../test/support/database.js';

describe('migration runner against real Postgres', () => {
  it('roll a failing migration back whole and name it', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'migrations-'));
    await writeFile(path.join(dir, '0001_ok.sql'), 'CREATE TABLE good_one (id int);');
    await writeFile(path.join(dir, '0002_broken.sql'), 'CREATE TABLE half_done (id int); SELECT * FROM missing_table;');
    const scratch = await createTestDatabase();
    const scratchPool = createPool({ connectionString: scratch.url, max: 2 });
    try {
      await expect(migrate(scratchPool, dir)).rejects.toThrow(/migration 2_broken failed/);
      const { rows } = await scratchPool.query("SELECT to_regclass('half_done') AS t, to_regclass('good_one') AS g");
      expect(rows[0]).toEqual({ t: null, g: 'good_one' });
    } finally {
      await scratchPool.end();
      await scratch.drop();
    }
  });

  it('refuse two migrations of one version, and version 0', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'migrations-'));
    await writeFile(path.join(dir, '0001_a.sql'), 'SELECT 1;');
    await writeFile(path.join(dir, '0003_b.sql'), 'SELECT 1;');
    await writeFile(path.join(dir, '0003_c.sql'), 'SELECT 1;');
    await expect(readMigrations(dir)).rejects.toThrow(/3_b and 3_c share a version/);
    const zero = await mkdtemp(path.join(tmpdir(), 'migrations-'));
    await writeFile(path.join(zero, '0000_a.sql'), 'SELECT 1;');
    await expect(readMigrations(zero)).rejects.toThrow(/versions start at 1/);
  });

  it('apply a version reserved below one already applied (branches merged in another order)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'migrations-'));
    await writeFile(path.join(dir, '0001_a.sql'), 'CREATE TABLE first_one (id int);');
    await writeFile(path.join(dir, '0003_c.sql'), 'CREATE TABLE third_one (id int);');
    const scratch = await createTestDatabase();
    const scratchPool = createPool({ connectionString: scratch.url, max: 2 });
    try {
      expect(await migrate(scratchPool, dir)).toEqual([1, 3]);
      await writeFile(path.join(dir, '0002_b.sql'), 'CREATE TABLE second_one (id int);');
      expect(await migrate(scratchPool, dir)).toEqual([2]);
      expect(await migrate(scratchPool, dir)).toEqual([]);
    } finally {
      await scratchPool.end();
      await scratch.drop();
    }
  });
});

describe('isDatabaseUnavailable with errors from real connections', () => {
  it('is true when nothing listens, when the server ends the session, and false for a bad query', async () => {
    const down = createPool({ connectionString: `postgres://conveyor:conveyor@127.0.0.1:${await freePort()}/none`, max: 1 });
    const refused = await down.query('SELECT 1').then(() => undefined, (error: unknown) => error);
    await down.end();
    expect(refused).toBeInstanceOf(Error);
    expect(isDatabaseUnavailable(refused)).toBe(true);

    const db = await createTestDatabase();
    const pool = createPool({ connectionString: db.url, max: 2 });
    try {
      const syntax = await pool.query('SELEC 1').then(() => undefined, (error: unknown) => error);
      expect(isDatabaseUnavailable(syntax)).toBe(false);
      const client = await pool.connect();
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      // With a timeout, pg_terminate_backend returns only once the backend has gone.
      await pool.query('SELECT pg_terminate_backend($1, 10000)', [rows[0]!.pid]);
      const terminated = await client.query('SELECT 1').then(() => undefined, (error: unknown) => error);
      client.release(true);
      expect(terminated, 'a query on the terminated session fails').toBeInstanceOf(Error);
      expect(isDatabaseUnavailable(terminated), String(terminated)).toBe(true);
    } finally {
      await pool.end();
      await db.drop();
    }
  });
});

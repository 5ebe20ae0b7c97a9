import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

export interface PoolOptions {
  connectionString: string;
  max?: number;
  applicationName?: string;
}

export function createPool({ connectionString, max = 10, applicationName }: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max,
    application_name: applicationName,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its connection (a Postgres restart) must not crash the process.
  pool.on('error', () => undefined);
  // Nor may a checked-out one: a connection terminated between two queries of a transaction
  // (say while a relay awaits Kafka) emits 'error' on its client, which pg-pool only listens for
  // while the client is idle. The caller's next query fails instead, and pg-pool discards the
  // broken client when it is released.
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  return pool;
}

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const MIGRATION_FILE = /^(\d+)[_-](.+)\.sql$/;

/**
 * Reads `NNNN_name.sql` files in version order; a version may appear once. Gaps are allowed:
 * parallel branches reserve their numbers ahead, and `migrate` applies every version not yet
 * recorded, in order, so one merged after a higher one has run is still applied.
 */
export async function readMigrations(dir: string): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => MIGRATION_FILE.test(f));
  const migrations = await Promise.all(
    files.map(async (file) => {
      const [, version, name] = MIGRATION_FILE.exec(file)!;
      return { version: Number(version), name: name!, sql: await readFile(path.join(dir, file), 'utf8') };
    }),
  );
  migrations.sort((a, b) => a.version - b.version);
  migrations.forEach((m, i) => {
    if (m.version < 1) throw new Error(`migration ${m.version}_${m.name}: versions start at 1`);
    const previous = migrations[i - 1];
    if (previous?.version === m.version) throw new Error(`migrations ${previous.version}_${previous.name} and ${m.version}_${m.name} share a version`);
  });
  return migrations;
}

/** Arbitrary constant: serialises concurrent migrators (several replicas starting at once). */
const MIGRATION_LOCK = 727_001;

/**
 * Applies pending migrations, each in its own transaction, under an advisory lock.
 * Returns the versions applied; an up-to-date database returns an empty list.
 */
export async function migrate(pool: pg.Pool, dir: string): Promise<number[]> {
  const migrations = await readMigrations(dir);
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
    const applied = new Set(rows.map((r) => r.version));
    const done: number[] = [];
    for (const migration of migrations) {
      if (applied.has(migration.version)) continue;
      try {
        await client.query('BEGIN');
        await client.query(migration.sql);
        await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
          migration.version,
          migration.name,
        ]);
        await client.query('COMMIT');
        done.push(migration.version);
      } catch (error) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${migration.version}_${migration.name} failed; nothing of it was applied`, {
          cause: error,
        });
      }
    }
    return done;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    client.release();
  }
}

/** Node socket errors that mean the server is not there (down, restarting, unreachable). */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * True when an error says Postgres cannot serve right now, as opposed to a bad query: a refused or
 * broken connection, a pool timeout, SQLSTATE class 08 (connection exception), 57P01-57P03
 * (shutting down, starting up) or 53300 (too many connections). Callers answer these with 503.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (UNREACHABLE_CODES.has(code) || code.startsWith('08') || ['57P01', '57P02', '57P03', '53300'].includes(code)) return true;
  }
  // pg and pg-pool report a lost or never-made connection with these plain errors.
  if (/^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/.test(error.message)) return true;
  if (error instanceof AggregateError) return error.errors.some(isDatabaseUnavailable);
  return error.cause !== undefined && isDatabaseUnavailable(error.cause);
}

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrate, type Pool } from '@conveyor/platform';
import { registerBuiltinJobTypes } from './job-types/builtins.js';

/** The folder of numbered .sql files, shipped beside dist/ in this package. */
export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../migrations');

/** Applies the migrations, then registers the built-in job types (idempotent: `make migrate`, the Helm hook, tests). */
export async function migrateJobsSchema(pool: Pool): Promise<number[]> {
  const applied = await migrate(pool, MIGRATIONS_DIR);
  await registerBuiltinJobTypes(pool);
  return applied;
}

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrate, type Pool } from '@conveyor/platform';

/** The folder of numbered .sql files, shipped beside dist/ in this package. */
export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../migrations');

export function migrateJobsSchema(pool: Pool): Promise<number[]> {
  return migrate(pool, MIGRATIONS_DIR);
}

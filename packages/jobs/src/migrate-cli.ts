#!/usr/bin/env node
/** Applies pending migrations to DATABASE_URL: the Helm hook Job and `make migrate` run this. */
import { z } from 'zod';
import { createPool, exitOnConfigError, loadConfig, databaseEnv } from '@conveyor/platform';
import { migrateJobsSchema } from './migrations.js';

let config: { DATABASE_URL: string };
try {
  config = loadConfig(z.object({ DATABASE_URL: databaseEnv.DATABASE_URL }));
} catch (error) {
  exitOnConfigError(error, 'migrate');
}
const pool = createPool({ connectionString: config.DATABASE_URL, max: 1, applicationName: 'migrate' });
try {
  const applied = await migrateJobsSchema(pool);
  process.stdout.write(`${JSON.stringify({ level: 'info', msg: 'migrations applied', applied })}\n`);
} catch (error) {
  process.stderr.write(`${JSON.stringify({ level: 'fatal', msg: String(error), cause: String((error as Error).cause) })}\n`);
  process.exitCode = 1;
} finally {
  await pool.end();
}

import { z } from 'zod';
import { awsEnv, commonEnv, databaseEnv, env } from '@conveyor/platform';

export const configSchema = z.object({
  ...commonEnv,
  ...databaseEnv,
  ...awsEnv,
  PORT: env.port(8083),
});

export type Config = z.infer<typeof configSchema>;

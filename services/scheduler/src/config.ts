import { z } from 'zod';
import { commonEnv, databaseEnv, env, kafkaEnv } from '@conveyor/platform';

export const configSchema = z.object({
  ...commonEnv,
  ...databaseEnv,
  ...kafkaEnv,
  PORT: env.port(8084),
});

export type Config = z.infer<typeof configSchema>;

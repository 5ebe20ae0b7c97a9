import { z } from 'zod';
import { awsEnv, commonEnv, env, kafkaEnv } from '@conveyor/platform';

export const configSchema = z.object({
  ...commonEnv,
  ...kafkaEnv,
  ...awsEnv,
  PORT: env.port(8082),
});

export type Config = z.infer<typeof configSchema>;

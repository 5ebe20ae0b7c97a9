import { z } from 'zod';
import { commonEnv, env } from '@conveyor/platform';

export const configSchema = z.object({
  ...commonEnv,
  PORT: env.port(8080),
  /** Where the api service listens; the gateway is its only public entry. */
  API_URL: z.url(),
});

export type Config = z.infer<typeof configSchema>;

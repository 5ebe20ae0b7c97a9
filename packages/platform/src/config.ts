import { z } from 'zod';

/** Raised when the environment does not satisfy a service's config schema. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/**
 * Parses the environment with a zod object schema whose keys are the variable names.
 * Every problem names its variable, so a bad deployment says exactly what to fix.
 */
export function loadConfig<S extends z.ZodType>(schema: S, env: Env = process.env): z.infer<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = issue.path.join('.') || '(environment)';
    const given = typeof issue.path[0] === 'string' ? env[issue.path[0]] : undefined;
    const reason = given === undefined ? `${issue.message} (not set)` : issue.message;
    return `${name}: ${reason}`;
  });
  throw new ConfigError(problems);
}

/** Reusable variable parsers so every service spells the same setting the same way. */
export const env = {
  port: (fallback: number) => z.coerce.number().int().min(1).max(65535).default(fallback),
  int: (fallback: number, min = 0) => z.coerce.number().int().min(min).default(fallback),
  bool: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'])
      .default(fallback ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1' || v === 'yes'),
  /** A flag whose default depends on other settings (NODE_ENV, say): undefined when unset. */
  optionalBool: () =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'])
      .optional()
      .transform((v) => (v === undefined ? undefined : v === 'true' || v === '1' || v === 'yes')),
  url: () => z.url(),
  list: () =>
    z
      .string()
      .min(1)
      .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
      .refine((items) => items.length > 0, 'must list at least one value'),
  logLevel: () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
};

/**
 * For services with traffic of their own: the operational endpoints must not share its port, or
 * whoever reaches the traffic port (an Ingress, the public) reaches them too.
 */
export function checkOpsPortApart(c: { PORT: number; OPS_PORT: number }, ctx: z.RefinementCtx): void {
  if (c.PORT === c.OPS_PORT) ctx.addIssue({ code: 'custom', path: ['OPS_PORT'], message: `must differ from PORT (${c.PORT})` });
}

/** Settings every service shares. */
export const commonEnv = {
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: env.logLevel(),
  SHUTDOWN_GRACE_MS: env.int(25_000, 0),
};

export const databaseEnv = {
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// connection URL'),
  DATABASE_POOL_MAX: env.int(10, 1),
};

export const kafkaEnv = {
  KAFKA_BROKERS: env.list(),
  KAFKA_CLIENT_ID: z.string().min(1).optional(),
};

export const awsEnv = {
  AWS_REGION: z.string().min(1).default('us-east-1'),
  /** Set for an emulator (fauxqs, LocalStack); leave unset for real AWS. */
  AWS_ENDPOINT_URL: z.url().optional(),
  AWS_ACCESS_KEY_ID: z.string().min(1).optional(),
  AWS_SECRET_ACCESS_KEY: z.string().min(1).optional(),
};

/** Logs the problems and stops the process: a misconfigured service must never half-start. */
export function exitOnConfigError(error: unknown, service: string): never {
  if (error instanceof ConfigError) {
    process.stderr.write(
      `${JSON.stringify({ level: 'fatal', service, msg: error.message, problems: error.problems })}\n`,
    );
    process.exit(78);
  }
  throw error;
}

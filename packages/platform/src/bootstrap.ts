import type { z } from 'zod';
import { loadConfig, exitOnConfigError } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { createMetrics, type ServiceMetrics } from './metrics.js';
import { Service } from './service.js';

/** The variables the lifecycle itself reads; every service schema includes them. */
interface LifecycleConfig {
  /** Only services that serve traffic of their own (gateway, api) have one. */
  PORT?: number;
  OPS_PORT: number;
  LOG_LEVEL: string;
  SHUTDOWN_GRACE_MS: number;
}

export interface Bootstrapped<C> {
  config: C;
  logger: Logger;
  metrics: ServiceMetrics;
  service: Service;
}

/**
 * The first lines of every main.ts: validated config (or exit naming the variable), logger,
 * metrics registry and the service lifecycle with signal handling installed.
 */
export function bootstrap<S extends z.ZodType<LifecycleConfig>>(
  name: string,
  schema: S,
  env: Record<string, string | undefined> = process.env,
  options: { maxHeaderSize?: (config: z.infer<S>) => number | undefined } = {},
): Bootstrapped<z.infer<S>> {
  let config: z.infer<S>;
  try {
    config = loadConfig(schema, env);
  } catch (error) {
    exitOnConfigError(error, name);
  }
  const logger = createLogger({ service: name, level: config.LOG_LEVEL });
  const metrics = createMetrics(name);
  const service = new Service({
    name,
    port: config.PORT,
    opsPort: config.OPS_PORT,
    logger,
    registry: metrics.registry,
    graceMs: config.SHUTDOWN_GRACE_MS,
    maxHeaderSize: options.maxHeaderSize?.(config),
  });
  service.handleSignals();
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled promise rejection'));
  return { config, logger, metrics, service };
}

/** Runs main; a failure to start is logged as fatal and exits non-zero instead of hanging. */
export function runMain(name: string, main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    const err = error instanceof Error ? { message: error.message, stack: error.stack } : { message: String(error) };
    process.stderr.write(`${JSON.stringify({ level: 'fatal', service: name, msg: 'failed to start', err })}\n`);
    process.exit(1);
  });
}

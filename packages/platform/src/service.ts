import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { createOpsRouter, listen, listenForTraffic, type ListeningServer, type RequestHandler } from './http-server.js';
import type { ReadinessCheck } from './health.js';
import { withTimeout } from './health.js';
import { shutdownTelemetry } from './telemetry/index.js';

export interface ServiceOptions {
  name: string;
  /** Port of the service's own traffic (gateway, api); only those that set a handler listen on it. */
  port?: number;
  /** Port of /healthz, /readyz and /metrics, kept apart from the traffic port. */
  opsPort: number;
  host?: string;
  logger: Logger;
  registry: Registry;
  /** How long draining may take before the process gives up and exits non-zero. */
  graceMs: number;
  maxHeaderSize?: number;
}

/**
 * The lifecycle every Conveyor process shares: serve ops endpoints (on their own port), serve its
 * traffic (when it has a handler), run, and on SIGTERM drain (readiness off, stop accepting, finish
 * in-flight work, release resources) then exit 0. A second signal exits at once.
 */
export class Service {
  private readonly readiness: ReadinessCheck[] = [];
  private readonly stopHooks: Array<{ name: string; stop: () => Promise<unknown> }> = [];
  private readonly drainHooks: Array<{ name: string; stop: () => Promise<unknown> }> = [];
  private readonly opsRoutes: Array<{ prefix: string; handler: RequestHandler }> = [];
  private handler: RequestHandler | undefined;
  private listening: ListeningServer | undefined;
  private ops: ListeningServer | undefined;
  private draining = false;
  private stopping: Promise<void> | undefined;

  constructor(private readonly options: ServiceOptions) {}

  get logger(): Logger {
    return this.options.logger;
  }

  /** The traffic port (the bound one once started, which matters when 0 was asked for). */
  get port(): number | undefined {
    return this.listening?.port ?? this.options.port;
  }

  get opsPort(): number {
    return this.ops?.port ?? this.options.opsPort;
  }

  addReadinessCheck(name: string, check: () => Promise<unknown>): this {
    this.readiness.push({ name, check });
    return this;
  }

  /** Registers cleanup; hooks run in reverse order of registration, like a stack of resources. */
  onStop(name: string, stop: () => Promise<unknown>): this {
    this.stopHooks.unshift({ name, stop });
    return this;
  }

  /**
   * Registers work to end before the HTTP server closes: long-lived responses (SSE streams) that
   * would otherwise keep the server from closing until the grace period runs out.
   */
  onDrainStart(name: string, stop: () => Promise<unknown>): this {
    this.drainHooks.push({ name, stop });
    return this;
  }

  /** A GET endpoint on the ops port, for components inside the cluster (never exposed publicly). */
  addOpsRoute(prefix: string, handler: RequestHandler): this {
    this.opsRoutes.push({ prefix, handler });
    return this;
  }

  setHandler(handler: RequestHandler): this {
    this.handler = handler;
    return this;
  }

  async start(): Promise<void> {
    if (this.ops || this.listening) return;
    const { host, maxHeaderSize } = this.options;
    const opsRouter = createOpsRouter({ registry: this.options.registry, readiness: this.readiness, isDraining: () => this.draining, routes: this.opsRoutes });
    if (this.handler) {
      if (this.options.port === undefined) throw new Error(`${this.options.name} has a request handler but no PORT`);
      this.listening = await listenForTraffic({ port: this.options.port, host, handler: this.handler, maxHeaderSize });
    }
    // After the traffic port, so a /healthz that answers means the service takes requests.
    this.ops = await listen({ port: this.options.opsPort, host, handler: opsRouter, maxHeaderSize });
    this.logger.info({ port: this.listening?.port, opsPort: this.ops.port }, `${this.options.name} listening`);
  }

  /** Drains and releases everything; safe to call more than once. */
  stop(): Promise<void> {
    this.stopping ??= this.drain();
    return this.stopping;
  }

  private async drain(): Promise<void> {
    this.draining = true;
    await this.runHooks(this.drainHooks);
    await this.listening?.close();
    await this.runHooks(this.stopHooks);
    // Last, so probes read "not ready" rather than "refused" for the whole drain.
    await this.ops?.close();
    await shutdownTelemetry();
  }

  private async runHooks(hooks: Array<{ name: string; stop: () => Promise<unknown> }>): Promise<void> {
    for (const hook of hooks) {
      const started = performance.now();
      try {
        await hook.stop();
        this.logger.debug({ hook: hook.name, ms: Math.round(performance.now() - started) }, 'stopped');
      } catch (error) {
        this.logger.error({ err: error, hook: hook.name }, 'error while stopping');
      }
    }
  }

  /** Installs SIGTERM/SIGINT handling: first signal drains within the grace period, second forces. */
  handleSignals(exit: (code: number) => void = (code) => process.exit(code)): void {
    let signalled = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (signalled) {
        this.logger.warn({ signal }, 'second signal: exiting without draining');
        exit(130);
        return;
      }
      signalled = true;
      this.logger.info({ signal, graceMs: this.options.graceMs }, 'draining');
      withTimeout(this.stop(), this.options.graceMs, 'drain exceeded the grace period').then(
        () => {
          this.logger.info('stopped cleanly');
          this.logger.flush();
          exit(0);
        },
        (error: unknown) => {
          this.logger.error({ err: error }, 'could not drain in time');
          this.logger.flush();
          exit(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }
}

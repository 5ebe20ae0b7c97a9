import CircuitBreaker from 'opossum';
import { fetch, type Dispatcher } from 'undici';
import type { Logger } from '@conveyor/platform';
import { backoffDelay } from './backoff.js';
import type { EventsConsumerMetrics } from './events.metrics.js';
import { EVENT_ID_HEADER, SIGNATURE_HEADER, signWebhook } from './webhook.signature.js';
import { assertPublicHost, blockedTargetOf, webhookDispatcher } from './webhook.target.js';

export interface WebhookOptions {
  /** WEBHOOK_SECRET: the HMAC key receivers verify with. */
  secret: string;
  /** WEBHOOK_TIMEOUT_MS: per attempt, connect to last byte. */
  timeoutMs?: number;
  /** WEBHOOK_MAX_ATTEMPTS */
  maxAttempts?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** A delivery older than this is given up even with attempts left (an open breaker spends none). */
  maxAgeMs?: number;
  /** Breaker per target host: opens at this failure percentage over its rolling window. */
  breakerErrorThresholdPercentage?: number;
  breakerResetTimeoutMs?: number;
  breakerVolumeThreshold?: number;
  /**
   * WEBHOOK_ALLOW_PRIVATE_NETWORKS: let webhooks reach loopback, private and link-local addresses.
   * Off in production: a tenant's callbackUrl must not reach the cluster's own services.
   */
  allowPrivateNetworks?: boolean;
}

export interface WebhookDelivery {
  eventId: string;
  url: string;
  body: string;
}

export type DeliveryOutcome = 'delivered' | 'failed' | 'aborted';

/** A receiver's non-2xx answer; 4xx other than 408/429 means "do not send this again". */
export class WebhookRejected extends Error {
  constructor(
    readonly status: number,
    readonly permanent: boolean,
  ) {
    super(`webhook receiver answered ${status}`);
    this.name = 'WebhookRejected';
  }
}

function isPermanent(error: unknown): boolean {
  return (error instanceof WebhookRejected && error.permanent) || blockedTargetOf(error) !== undefined;
}

function isOpenCircuit(error: unknown): boolean {
  return (error as { code?: string } | undefined)?.code === 'EOPENBREAKER';
}

async function post(url: string, body: string, headers: Record<string, string>, timeoutMs: number, dispatcher: Dispatcher | undefined): Promise<number> {
  if (dispatcher) assertPublicHost(new URL(url));
  const response = await fetch(url, {
    dispatcher,
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', 'user-agent': 'conveyor-webhooks/1', ...headers },
    // A redirect could point the signed request anywhere; receivers must give the final URL.
    redirect: 'manual',
    signal: AbortSignal.timeout(timeoutMs),
  });
  await response.body?.cancel().catch(() => undefined);
  if (response.status >= 200 && response.status < 300) return response.status;
  const permanent = response.status >= 300 && response.status < 500 && response.status !== 408 && response.status !== 429;
  throw new WebhookRejected(response.status, permanent);
}

/**
 * Sends signed webhooks with bounded retries (exponential backoff, full jitter) behind one circuit
 * breaker per target host, so a dead receiver is not hammered and does not slow the others.
 * Each `deliver` runs in the background of the caller and resolves once the delivery is settled.
 */
export class WebhookSender {
  private readonly breakers = new Map<string, CircuitBreaker<[string, string, Record<string, string>], number>>();
  private readonly abort = new AbortController();
  private readonly settledListeners = new Set<() => void>();
  private active = 0;
  private readonly opts: Required<WebhookOptions>;
  /** Set only when private networks are off: its connections dial public addresses only. */
  private readonly dispatcher: Dispatcher | undefined;

  constructor(
    options: WebhookOptions,
    private readonly logger: Logger,
    private readonly metrics: EventsConsumerMetrics,
    private readonly random: () => number = Math.random,
  ) {
    if (!options.secret) throw new Error('webhook secret must not be empty');
    this.opts = {
      timeoutMs: 10_000,
      maxAttempts: 8,
      backoffBaseMs: 1_000,
      backoffMaxMs: 5 * 60_000,
      maxAgeMs: 60 * 60_000,
      breakerErrorThresholdPercentage: 50,
      breakerResetTimeoutMs: 30_000,
      breakerVolumeThreshold: 5,
      allowPrivateNetworks: false,
      ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
    } as Required<WebhookOptions>;
    this.dispatcher = this.opts.allowPrivateNetworks ? undefined : webhookDispatcher();
  }

  /** Deliveries not yet settled. */
  get pending(): number {
    return this.active;
  }

  /** Resolves the next time a delivery settles (for backpressure). */
  nextSettled(): Promise<void> {
    return new Promise((resolve) => this.settledListeners.add(resolve));
  }

  async deliver(delivery: WebhookDelivery): Promise<DeliveryOutcome> {
    this.active += 1;
    try {
      return await this.run(delivery);
    } finally {
      this.active -= 1;
      const listeners = [...this.settledListeners];
      this.settledListeners.clear();
      for (const listener of listeners) listener();
    }
  }

  /** Stops waiting retries; their deliveries resolve `aborted` (their Kafka offsets stay uncommitted). */
  close(): void {
    this.abort.abort();
    for (const breaker of this.breakers.values()) breaker.shutdown();
  }

  private async run({ eventId, url, body }: WebhookDelivery): Promise<DeliveryOutcome> {
    const started = performance.now();
    const log = this.logger.child({ eventId, host: hostOf(url) });
    const breaker = this.breakerFor(url);
    let tries = 0;
    for (;;) {
      if (this.abort.signal.aborted) return 'aborted';
      const timestamp = Math.floor(Date.now() / 1000);
      // Signed per attempt: a retry hours later must still pass the receiver's timestamp tolerance.
      const headers = { [SIGNATURE_HEADER]: signWebhook(this.opts.secret, timestamp, body), [EVENT_ID_HEADER]: eventId };
      try {
        await breaker.fire(url, body, headers);
        this.metrics.webhooksDelivered.inc();
        this.metrics.deliverySeconds.observe((performance.now() - started) / 1000);
        log.info({ tries: tries + 1 }, 'webhook delivered');
        return 'delivered';
      } catch (error) {
        const open = isOpenCircuit(error);
        if (!open) tries += 1;
        const reason = blockedTargetOf(error)
          ? 'blocked'
          : isPermanent(error)
          ? 'rejected'
          : tries >= this.opts.maxAttempts
            ? 'attempts'
            : performance.now() - started > this.opts.maxAgeMs
              ? 'expired'
              : undefined;
        if (reason) {
          this.metrics.webhooksFailed.inc({ reason });
          log.warn({ err: error, tries, reason }, 'webhook given up');
          return 'failed';
        }
        this.metrics.webhooksRetried.inc();
        const backoff = backoffDelay(Math.max(tries, 1), { baseMs: this.opts.backoffBaseMs, maxMs: this.opts.backoffMaxMs }, this.random);
        // With the breaker open, trying before it half-opens is pointless.
        const delay = open ? Math.max(backoff, this.opts.breakerResetTimeoutMs) : backoff;
        log.info({ err: error instanceof Error ? error.message : String(error), tries, delayMs: delay }, 'webhook attempt failed; retrying');
        await sleep(delay, this.abort.signal);
      }
    }
  }

  private breakerFor(url: string) {
    const host = hostOf(url);
    let breaker = this.breakers.get(host);
    if (!breaker) {
      breaker = new CircuitBreaker((target: string, body: string, headers: Record<string, string>) => post(target, body, headers, this.opts.timeoutMs, this.dispatcher), {
        // The fetch has its own timeout; opossum's would leave the request running.
        timeout: false,
        errorThresholdPercentage: this.opts.breakerErrorThresholdPercentage,
        resetTimeout: this.opts.breakerResetTimeoutMs,
        volumeThreshold: this.opts.breakerVolumeThreshold,
        // A receiver refusing one payload (4xx) is not an unhealthy host.
        errorFilter: isPermanent,
      });
      breaker.on('open', () => this.logger.warn({ host }, 'webhook circuit opened'));
      breaker.on('close', () => this.logger.info({ host }, 'webhook circuit closed'));
      this.breakers.set(host, breaker);
    }
    return breaker;
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(invalid)';
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

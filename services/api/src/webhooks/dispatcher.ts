import { backoffDelay } from '@conveyor/platform';
import { randomUUID } from 'node:crypto';
import type { Logger, Pool } from '@conveyor/platform';
import { claimDue, isolationKey, recordAttempt, releaseClaims, type ClaimedDelivery } from './deliveries.repo.js';
import type { WebhookMetrics } from './metrics.js';
import { EndpointBreakers, isOpenCircuit, type CircuitView, isPermanent, postWebhook, WebhookRejected } from './sender.js';
import type { WebhookSecrets } from './secrets.js';
import { EVENT_ID_HEADER, SIGNATURE_HEADER, signWebhook } from './signature.js';
import { blockedTargetOf, callbackUrlProblem, webhookAgent, type TargetPolicy } from './target.js';

export interface DispatcherOptions {
  pool: Pool;
  secrets: WebhookSecrets;
  policy: TargetPolicy;
  logger: Logger;
  metrics: WebhookMetrics;
  /** WEBHOOK_TIMEOUT_MS: per attempt, connect to last byte. */
  timeoutMs?: number;
  /** WEBHOOK_MAX_ATTEMPTS */
  maxAttempts?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** A delivery older than this is given up even with attempts left (an open breaker spends none). */
  maxAgeMs?: number;
  /** WEBHOOK_MAX_IN_FLIGHT: requests this process has open at once. */
  maxInFlight?: number;
  /** Deliveries of one tenant and destination sent together per round. */
  perKey?: number;
  /** How often due deliveries are looked for when nothing wakes the dispatcher (retries, other replicas' rows). */
  pollIntervalMs?: number;
  breakerErrorThresholdPercentage?: number;
  breakerResetTimeoutMs?: number;
  breakerVolumeThreshold?: number;
  random?: () => number;
}

export interface WebhookDispatcher {
  /** Look for due deliveries now (the consumer stored some). */
  wake(): void;
  /** The circuit breaker of a tenant's destination as this process sees it (breakers live in memory, per process). */
  circuit(tenant: string, destination: string): CircuitView;
  /** Stops claiming, lets requests in flight finish for up to `drainMs`, then puts the rest back. */
  stop(drainMs?: number): Promise<void>;
}

type Outcome = { status: 'delivered'; code: number } | { status: 'pending'; retryInMs: number } | { status: 'failed'; reason: string };

/**
 * Works off webhook_deliveries: claims due rows fairly per tenant and destination, signs each
 * with its tenant's secrets, sends it behind that key's circuit breaker, and records the attempt
 * (status code, latency, error, next retry) on the row. Everything it knows is in Postgres, so a
 * restart or a second replica simply goes on from there.
 */
export function startWebhookDispatcher(options: DispatcherOptions): WebhookDispatcher {
  const o = {
    timeoutMs: 10_000,
    maxAttempts: 8,
    backoffBaseMs: 1_000,
    backoffMaxMs: 5 * 60_000,
    maxAgeMs: 24 * 60 * 60_000,
    maxInFlight: 200,
    perKey: 8,
    pollIntervalMs: 1_000,
    breakerErrorThresholdPercentage: 50,
    breakerResetTimeoutMs: 30_000,
    breakerVolumeThreshold: 5,
    random: Math.random,
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
  } as Required<DispatcherOptions>;
  const { pool, logger, metrics, policy } = o;
  const agent = webhookAgent(policy);
  const breakers = new EndpointBreakers(
    { errorThresholdPercentage: o.breakerErrorThresholdPercentage, resetTimeoutMs: o.breakerResetTimeoutMs, volumeThreshold: o.breakerVolumeThreshold, idleMs: 10 * 60_000 },
    logger,
  );
  const abort = new AbortController();
  const busy = new Map<string, Promise<void>>();
  let inFlight = 0;
  let stopped = false;
  let wakeUp: (() => void) | undefined;
  let woken = false;
  // A claim outlives the slowest attempt; after that another dispatcher may take the row over.
  const leaseMs = o.timeoutMs + 30_000;

  const decide = (delivery: ClaimedDelivery, error: unknown): Outcome => {
    const attempts = delivery.budgetUsed + 1;
    if (blockedTargetOf(error)) return { status: 'failed', reason: 'blocked' };
    if (isPermanent(error)) return { status: 'failed', reason: 'rejected' };
    if (attempts >= o.maxAttempts) return { status: 'failed', reason: 'attempts' };
    if (Date.now() - delivery.since.getTime() > o.maxAgeMs) return { status: 'failed', reason: 'expired' };
    return { status: 'pending', retryInMs: backoffDelay(attempts, { baseMs: o.backoffBaseMs, maxMs: o.backoffMaxMs }, o.random) };
  };

  /** One attempt of one delivery; false when it was put back without an attempt (open breaker). */
  const attempt = async (delivery: ClaimedDelivery, secrets: string[], token: string): Promise<boolean> => {
    const key = isolationKey(delivery);
    const log = logger.child({ deliveryId: delivery.id, eventId: delivery.eventId, jobId: delivery.jobId, tenant: delivery.tenant, url: delivery.url });
    const startedAt = new Date();
    const started = performance.now();
    let outcome: Outcome;
    let statusCode: number | null = null;
    let errorText: string | null = null;
    try {
      const problem = callbackUrlProblem(delivery.url, policy);
      if (problem) throw Object.assign(new Error(`callbackUrl ${problem}`), { permanentTarget: true });
      const timestamp = Math.floor(Date.now() / 1000);
      // Signed per attempt: a retry hours later must still pass the receiver's timestamp tolerance.
      const headers = { [SIGNATURE_HEADER]: signWebhook(secrets, timestamp, delivery.body), [EVENT_ID_HEADER]: delivery.eventId };
      statusCode = await breakers.fire(key, () => postWebhook(delivery.url, delivery.body, headers, { agent, policy, timeoutMs: o.timeoutMs, signal: abort.signal }));
      outcome = { status: 'delivered', code: statusCode };
    } catch (error) {
      if (isOpenCircuit(error)) {
        // Trying before the breaker lets a probe through is pointless, and spends no attempt.
        await releaseClaims(pool, [delivery.id], token, Math.max(breakers.reopensIn(key), 250) + o.random() * 1_000);
        return false;
      }
      if (abort.signal.aborted) {
        await releaseClaims(pool, [delivery.id], token, 0);
        return false;
      }
      if (error instanceof WebhookRejected) statusCode = error.status;
      errorText = error instanceof Error ? error.message : String(error);
      outcome = (error as { permanentTarget?: boolean }).permanentTarget ? { status: 'failed', reason: 'blocked' } : decide(delivery, error);
    }
    const latencyMs = performance.now() - started;
    const recorded = await recordAttempt(pool, {
      deliveryId: delivery.id,
      token,
      startedAt,
      latencyMs,
      statusCode,
      error: errorText,
      status: outcome.status,
      retryInMs: outcome.status === 'pending' ? outcome.retryInMs : null,
      failureReason: outcome.status === 'failed' ? outcome.reason : null,
    });
    if (!recorded) log.warn('webhook claim lapsed before its attempt was recorded; another dispatcher took it over');
    switch (outcome.status) {
      case 'delivered':
        metrics.delivered.inc();
        metrics.deliverySeconds.observe((Date.now() - delivery.since.getTime()) / 1000);
        log.info({ attempts: delivery.attempts + 1, statusCode, latencyMs: Math.round(latencyMs) }, 'webhook delivered');
        break;
      case 'pending':
        metrics.retried.inc();
        log.info({ attempts: delivery.attempts + 1, statusCode, err: errorText, retryInMs: outcome.retryInMs }, 'webhook attempt failed; retrying');
        break;
      case 'failed':
        metrics.failed.inc({ reason: outcome.reason });
        log.warn({ attempts: delivery.attempts + 1, statusCode, err: errorText, reason: outcome.reason }, 'webhook given up');
        break;
    }
    return true;
  };

  /** Sends one key's claimed deliveries together; once its breaker opens, the rest go back at once. */
  const sendKey = async (deliveries: ClaimedDelivery[], secrets: Map<string, string[]>, token: string) => {
    inFlight += deliveries.length;
    await Promise.all(
      deliveries.map(async (delivery) => {
        try {
          await attempt(delivery, secrets.get(delivery.tenant)!, token);
        } catch (error) {
          logger.error({ err: error, deliveryId: delivery.id }, 'webhook attempt could not be recorded; it is retried once its claim lapses');
        } finally {
          inFlight -= 1;
        }
      }),
    );
  };

  const round = async (): Promise<number> => {
    const capacity = o.maxInFlight - inFlight;
    if (capacity <= 0) return 0;
    const token = randomUUID();
    const claimed = await claimDue(pool, { token, busyKeys: [...busy.keys()], maxKeys: Math.max(1, Math.ceil(capacity / o.perKey)), perKey: o.perKey, leaseMs });
    if (claimed.length === 0) return 0;
    const secrets = await o.secrets.signingSecrets(claimed.map((d) => d.tenant));
    const byKey = new Map<string, ClaimedDelivery[]>();
    for (const delivery of claimed) byKey.set(isolationKey(delivery), [...(byKey.get(isolationKey(delivery)) ?? []), delivery]);
    for (const [key, deliveries] of byKey) {
      const sending = sendKey(deliveries, secrets, token).finally(() => {
        busy.delete(key);
        wake();
      });
      busy.set(key, sending);
    }
    return claimed.length;
  };

  const wake = () => {
    woken = true;
    wakeUp?.();
  };

  const loop = (async () => {
    let sweptAt = Date.now();
    while (!stopped) {
      woken = false;
      try {
        await round();
      } catch (error) {
        logger.warn({ err: error }, 'could not claim due webhooks; trying again');
      }
      if (Date.now() - sweptAt > 60_000) {
        breakers.sweep();
        sweptAt = Date.now();
      }
      if (stopped || woken) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, o.pollIntervalMs);
        wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wakeUp = undefined;
    }
  })();

  return {
    wake,
    circuit: (tenant, destination) => breakers.state(isolationKey({ tenant, destination })),
    stop: async (drainMs = 5_000) => {
      if (stopped) return;
      stopped = true;
      wakeUp?.();
      await loop;
      const drained = Promise.all(busy.values());
      await Promise.race([drained, new Promise((resolve) => setTimeout(resolve, drainMs))]);
      // Requests still open are abandoned: their rows go back to pending and are sent again.
      abort.abort();
      await drained;
      breakers.shutdown();
      await agent.close().catch(() => undefined);
    },
  };
}

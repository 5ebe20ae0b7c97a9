import CircuitBreaker from 'opossum';
import { fetch, type Dispatcher } from 'undici';
import type { Logger } from '@conveyor/platform';
import { assertAllowedTarget, blockedTargetOf, type TargetPolicy } from './target.js';

/** A receiver's non-2xx answer; 3xx and 4xx other than 408/429 mean "do not send this again". */
export class WebhookRejected extends Error {
  constructor(
    readonly status: number,
    readonly permanent: boolean,
  ) {
    super(`webhook receiver answered ${status}`);
    this.name = 'WebhookRejected';
  }
}

/** fetch refuses to build such a request (credentials in the URL, say): sending it again cannot help. */
function isUnsendable(error: unknown): boolean {
  return error instanceof TypeError && /cannot be constructed|Invalid URL/i.test(error.message);
}

/** An error that no retry will fix: a refusing receiver, a refused target, an unsendable URL. */
export function isPermanent(error: unknown): boolean {
  return (error instanceof WebhookRejected && error.permanent) || blockedTargetOf(error) !== undefined || isUnsendable(error);
}

export function isOpenCircuit(error: unknown): boolean {
  return (error as { code?: string } | undefined)?.code === 'EOPENBREAKER';
}

export interface PostOptions {
  agent: Dispatcher;
  policy: TargetPolicy;
  timeoutMs: number;
  signal: AbortSignal;
}

/** One signed POST through the policy-checking agent; resolves with the 2xx status or throws. */
export async function postWebhook(url: string, body: string, headers: Record<string, string>, o: PostOptions): Promise<number> {
  assertAllowedTarget(new URL(url), o.policy);
  const response = await fetch(url, {
    dispatcher: o.agent,
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', 'user-agent': 'conveyor-webhooks/1', ...headers },
    // A redirect could point the signed request anywhere; receivers must give the final URL.
    redirect: 'manual',
    signal: AbortSignal.any([o.signal, AbortSignal.timeout(o.timeoutMs)]),
  });
  await response.body?.cancel().catch(() => undefined);
  if (response.status >= 200 && response.status < 300) return response.status;
  const permanent = response.status >= 300 && response.status < 500 && response.status !== 408 && response.status !== 429;
  throw new WebhookRejected(response.status, permanent);
}

export interface BreakerOptions {
  errorThresholdPercentage: number;
  resetTimeoutMs: number;
  volumeThreshold: number;
  /** A closed breaker unused this long is dropped (its key had no webhook for a while). */
  idleMs: number;
}

export interface CircuitView {
  state: 'closed' | 'open' | 'half-open';
  /** While open: how long until a probe is let through. */
  reopensInMs?: number;
}

interface Entry {
  breaker: CircuitBreaker<[() => Promise<number>], number>;
  lastUsed: number;
  openedAt: number;
}

/**
 * One circuit breaker per isolation key (tenant and destination), so a failing endpoint opens only
 * its owner's breaker: another tenant's webhooks to the same host are never held behind it.
 */
export class EndpointBreakers {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly options: BreakerOptions,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  fire(key: string, send: () => Promise<number>): Promise<number> {
    const entry = this.entryFor(key);
    entry.lastUsed = this.now();
    return entry.breaker.fire(send);
  }

  /** How long until the key's open breaker lets a probe through (0 when it is not open). */
  reopensIn(key: string): number {
    const entry = this.entries.get(key);
    if (!entry?.breaker.opened) return 0;
    return Math.max(0, entry.openedAt + this.options.resetTimeoutMs - this.now());
  }

  /**
   * The key's breaker as this process sees it. A key without a breaker here (never sent to from
   * this process, or idle and swept) is `closed`: the next delivery would be sent.
   */
  state(key: string): CircuitView {
    const entry = this.entries.get(key);
    if (entry?.breaker.opened) return { state: 'open', reopensInMs: this.reopensIn(key) };
    if (entry?.breaker.halfOpen) return { state: 'half-open' };
    return { state: 'closed' };
  }

  /** Drops breakers that are closed and idle; returns how many remain. */
  sweep(): number {
    const cutoff = this.now() - this.options.idleMs;
    for (const [key, entry] of this.entries) {
      if (entry.breaker.closed && entry.lastUsed < cutoff) {
        entry.breaker.shutdown();
        this.entries.delete(key);
      }
    }
    return this.entries.size;
  }

  shutdown(): void {
    for (const entry of this.entries.values()) entry.breaker.shutdown();
    this.entries.clear();
  }

  private entryFor(key: string): Entry {
    const existing = this.entries.get(key);
    if (existing) return existing;
    const breaker = new CircuitBreaker((send: () => Promise<number>) => send(), {
      // The fetch has its own timeout; opossum's would leave the request running.
      timeout: false,
      errorThresholdPercentage: this.options.errorThresholdPercentage,
      resetTimeout: this.options.resetTimeoutMs,
      volumeThreshold: this.options.volumeThreshold,
      // A receiver refusing one payload (4xx) is not an unhealthy endpoint.
      errorFilter: isPermanent,
    });
    const created: Entry = { breaker, lastUsed: this.now(), openedAt: 0 };
    breaker.on('open', () => {
      created.openedAt = this.now();
      this.logger.warn({ key }, 'webhook circuit opened');
    });
    breaker.on('close', () => this.logger.info({ key }, 'webhook circuit closed'));
    this.entries.set(key, created);
    return created;
  }
}

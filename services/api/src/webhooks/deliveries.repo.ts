import type { Pool } from '@conveyor/platform';

type Queryable = Pick<Pool, 'query'>;

export interface NewDelivery {
  eventId: string;
  jobId: string;
  tenant: string;
  url: string;
  body: string;
}

/** A delivery a dispatcher claimed: it alone may record its next attempt, until the claim lapses. */
export interface ClaimedDelivery {
  id: string;
  eventId: string;
  jobId: string;
  tenant: string;
  url: string;
  destination: string;
  body: string;
  attempts: number;
  /** Attempts since the delivery was stored or last redelivered: the ones WEBHOOK_MAX_ATTEMPTS counts. */
  budgetUsed: number;
  /** When the delivery was stored or last redelivered: its age limit counts from here. */
  since: Date;
}

/** `scheme://host:port` of a URL; `(invalid)` for what is not one (it fails as blocked when attempted). */
export function destinationOf(url: string): string {
  try {
    const { protocol, hostname, port } = new URL(url);
    return `${protocol}//${hostname}:${port || (protocol === 'https:' ? '443' : '80')}`;
  } catch {
    return '(invalid)';
  }
}

/** The key deliveries are isolated by: one tenant's endpoint never slows another tenant's. */
export function isolationKey(d: Pick<ClaimedDelivery, 'tenant' | 'destination'>): string {
  return `${d.tenant} ${d.destination}`;
}

/** Stores deliveries once per event, in one statement: a redelivered event is a no-op. Returns how many were new. */
export async function insertDeliveries(db: Queryable, deliveries: readonly NewDelivery[]): Promise<number> {
  if (deliveries.length === 0) return 0;
  const { rowCount } = await db.query({
    name: 'webhook-deliveries.insert',
    text: `INSERT INTO webhook_deliveries (event_id, job_id, tenant, url, destination, body)
           SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[])
           ON CONFLICT (event_id) DO NOTHING`,
    values: [
      deliveries.map((d) => d.eventId),
      deliveries.map((d) => d.jobId),
      deliveries.map((d) => d.tenant),
      deliveries.map((d) => d.url),
      deliveries.map((d) => destinationOf(d.url)),
      deliveries.map((d) => d.body),
    ],
  });
  return rowCount ?? 0;
}

export interface ClaimOptions {
  /** Claim token of this round; recording an attempt needs it. */
  token: string;
  /** Tenant+destination keys this process is still sending to: not claimed again until those settle. */
  busyKeys: readonly string[];
  /** At most this many keys per round, the longest-waiting first. */
  maxKeys: number;
  /** At most this many deliveries per key per round. */
  perKey: number;
  /** How long the claim holds before another dispatcher may take the row (a crashed process's rows). */
  leaseMs: number;
}

/**
 * Claims due deliveries fairly: the keys (tenant, destination) that waited longest, and a few
 * deliveries of each, so a tenant with thousands of due retries takes no more turns than one with
 * a single webhook. A claim moves next_attempt_at past the lease; SKIP LOCKED and the conditional
 * update keep two dispatchers from taking the same row.
 */
export async function claimDue(db: Queryable, o: ClaimOptions): Promise<ClaimedDelivery[]> {
  const { rows } = await db.query<ClaimedDelivery>({
    name: 'webhook-deliveries.claim',
    text: `WITH keys AS (
             SELECT tenant, destination, min(next_attempt_at) AS oldest FROM webhook_deliveries
             WHERE status = 'pending' AND next_attempt_at <= now() AND NOT ((tenant || ' ' || destination) = ANY($2::text[]))
             GROUP BY tenant, destination ORDER BY oldest LIMIT $3::int
           ), picked AS (
             SELECT d.id FROM keys k CROSS JOIN LATERAL (
               SELECT w.id FROM webhook_deliveries w
               WHERE w.tenant = k.tenant AND w.destination = k.destination AND w.status = 'pending' AND w.next_attempt_at <= now()
               ORDER BY w.next_attempt_at LIMIT $4::int FOR UPDATE SKIP LOCKED
             ) d
           )
           UPDATE webhook_deliveries w SET claim_token = $1, next_attempt_at = now() + $5::int * interval '1 millisecond'
           FROM picked WHERE w.id = picked.id AND w.status = 'pending' AND w.next_attempt_at <= now()
           RETURNING w.id, w.event_id::text AS "eventId", w.job_id AS "jobId", w.tenant, w.url, w.destination, w.body,
                     w.attempts, w.attempts - w.attempts_before_redelivery AS "budgetUsed",
                     coalesce(w.redelivered_at, w.created_at) AS since`,
    values: [o.token, o.busyKeys, o.maxKeys, o.perKey, o.leaseMs],
  });
  return rows;
}

export interface AttemptRecord {
  deliveryId: string;
  token: string;
  startedAt: Date;
  latencyMs: number;
  statusCode: number | null;
  error: string | null;
  /** `pending` with `retryInMs`, or the delivery's final status. */
  status: 'pending' | 'delivered' | 'failed';
  retryInMs: number | null;
  failureReason: string | null;
}

/**
 * Records one attempt and the delivery's new state, if this dispatcher's claim still holds (a
 * claim that lapsed was taken over; its attempt is then not recorded twice).
 */
export async function recordAttempt(db: Queryable, a: AttemptRecord): Promise<boolean> {
  const { rowCount } = await db.query({
    name: 'webhook-deliveries.record-attempt',
    text: `WITH updated AS (
             UPDATE webhook_deliveries SET
               status = $3::text, attempts = attempts + 1, claim_token = NULL, updated_at = now(),
               next_attempt_at = CASE WHEN $3::text = 'pending' THEN now() + $4::int * interval '1 millisecond' ELSE next_attempt_at END,
               finished_at = CASE WHEN $3::text = 'pending' THEN NULL ELSE now() END,
               last_status_code = $5::int, last_error = $6::text, failure_reason = $7::text
             WHERE id = $1 AND claim_token = $2
             RETURNING id, attempts, next_attempt_at, status
           )
           INSERT INTO webhook_delivery_attempts (delivery_id, attempt, started_at, latency_ms, status_code, error, next_attempt_at)
           SELECT id, attempts, $8::timestamptz, $9::int, $5::int, $6::text, CASE WHEN status = 'pending' THEN next_attempt_at END FROM updated`,
    values: [a.deliveryId, a.token, a.status, a.retryInMs ?? 0, a.statusCode, a.error, a.failureReason, a.startedAt, Math.round(a.latencyMs)],
  });
  return (rowCount ?? 0) > 0;
}

/** Puts claimed deliveries back without spending an attempt (an open breaker, a shutdown). */
export async function releaseClaims(db: Queryable, ids: readonly string[], token: string, delayMs: number): Promise<void> {
  if (ids.length === 0) return;
  await db.query({
    name: 'webhook-deliveries.release',
    text: `UPDATE webhook_deliveries SET claim_token = NULL, next_attempt_at = now() + $3::int * interval '1 millisecond'
           WHERE id = ANY($1::uuid[]) AND claim_token = $2 AND status = 'pending'`,
    values: [ids, token, Math.max(0, Math.round(delayMs))],
  });
}

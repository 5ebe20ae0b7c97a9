-- Webhook deliveries: one row per terminal job event whose job has a callbackUrl, written by the
-- api's jobs.events consumer and worked off by its webhook dispatcher. The row, not memory or a
-- Kafka offset, holds a delivery's state, so a restart of the api loses nothing and one tenant's
-- failing endpoint only delays its own rows. GET /jobs/{id}/deliveries reads these two tables.
CREATE TABLE webhook_deliveries (
  id               uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  -- job_events.id of the terminal event; sent as Conveyor-Event-Id. Unique: a redelivered event is a no-op.
  event_id         bigint      NOT NULL UNIQUE,
  job_id           uuid        NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  tenant           text        NOT NULL,
  url              text        NOT NULL,
  -- scheme://host:port. With the tenant it keys the circuit breaker and fair claiming.
  destination      text        NOT NULL,
  body             text        NOT NULL,
  status           text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts         integer     NOT NULL DEFAULT 0,
  -- While pending: when the next attempt is due, or when the claim of a dispatcher lapses.
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  -- Set by the dispatcher that claimed the row; only that claim may record the attempt.
  claim_token      uuid,
  last_status_code integer,
  last_error       text,
  -- Why a failed delivery was given up: rejected, blocked, attempts, expired.
  failure_reason   text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  finished_at      timestamptz
);
CREATE INDEX webhook_deliveries_job ON webhook_deliveries (job_id, created_at);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (tenant, destination, next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';

-- Every attempt of a delivery: what the receiver answered (or the error), how long it took, and
-- when the next attempt was scheduled (NULL after the last).
CREATE TABLE webhook_delivery_attempts (
  delivery_id     uuid        NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
  attempt         integer     NOT NULL,
  started_at      timestamptz NOT NULL,
  latency_ms      integer     NOT NULL,
  status_code     integer,
  error           text,
  next_attempt_at timestamptz,
  PRIMARY KEY (delivery_id, attempt)
);

-- Each tenant's webhook signing secrets: the current one (expires_at NULL) and, after a rotation,
-- the previous one until it expires. Stored encrypted (AES-256-GCM under WEBHOOK_SECRETS_KEY,
-- bound to the tenant), never in clear.
CREATE TABLE webhook_secrets (
  id         uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant     text        NOT NULL,
  ciphertext bytea       NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz
);
CREATE UNIQUE INDEX webhook_secrets_current ON webhook_secrets (tenant) WHERE expires_at IS NULL;
CREATE INDEX webhook_secrets_tenant ON webhook_secrets (tenant, expires_at);

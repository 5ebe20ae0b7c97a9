-- Jobs are the source of truth for a job's state; Kafka and SQS only carry work.
CREATE TABLE jobs (
  id               uuid PRIMARY KEY,
  tenant           text        NOT NULL,
  -- The principal (user) that submitted the job; notifications go to them.
  owner            text        NOT NULL,
  type             text        NOT NULL,
  payload          jsonb       NOT NULL,
  status           text        NOT NULL
                   CHECK (status IN ('scheduled', 'queued', 'processing', 'retrying', 'success', 'failed', 'cancelled')),
  priority         smallint    NOT NULL DEFAULT 0,
  attempts         integer     NOT NULL DEFAULT 0,
  max_attempts     integer     NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
  timeout_seconds  integer     NOT NULL DEFAULT 300 CHECK (timeout_seconds >= 1),
  run_at           timestamptz,
  progress         real,
  result           jsonb,
  -- Large results live in object storage; the row keeps only where.
  result_key       text,
  error            text,
  callback_url     text,
  idempotency_key  text,
  -- Hash of the request body, to tell a replay (same body) from a conflict (different body).
  request_hash     text,
  trace_id         text,
  traceparent      text,
  request_id       text,
  cancel_requested boolean     NOT NULL DEFAULT false,
  -- Outbox marker: a queued job with no published_at has not reached Kafka yet.
  published_at     timestamptz,
  locked_by        text,
  heartbeat_at     timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  started_at       timestamptz,
  finished_at      timestamptz
);

CREATE UNIQUE INDEX jobs_tenant_idempotency_key ON jobs (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL;
-- Listing a tenant's jobs newest first, optionally by status or type (cursor = created_at, id).
CREATE INDEX jobs_tenant_created ON jobs (tenant, created_at DESC, id DESC);
CREATE INDEX jobs_tenant_status_created ON jobs (tenant, status, created_at DESC, id DESC);
CREATE INDEX jobs_tenant_type_created ON jobs (tenant, type, created_at DESC, id DESC);
-- Scheduler: the next due delayed jobs.
CREATE INDEX jobs_due ON jobs (run_at) WHERE status = 'scheduled';
-- Outbox relay: stored but not yet published.
CREATE INDEX jobs_unpublished ON jobs (created_at) WHERE status = 'queued' AND published_at IS NULL;
-- Reconciler: running jobs whose worker stopped heartbeating, queued jobs that never started.
CREATE INDEX jobs_processing_heartbeat ON jobs (heartbeat_at) WHERE status = 'processing';
CREATE INDEX jobs_queued_published ON jobs (published_at) WHERE status IN ('queued', 'retrying');

-- Every lifecycle event of a job, in order; the SSE stream and audit read it.
CREATE TABLE job_events (
  id         bigserial   PRIMARY KEY,
  job_id     uuid        NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  type       text        NOT NULL,
  data       jsonb       NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX job_events_job ON job_events (job_id, id);

-- Point reservations (seed 004): stored when requested, granted by a points.grant job at execute_at.
CREATE TABLE points_reservations (
  id         uuid        PRIMARY KEY,
  tenant     text        NOT NULL,
  user_id    text        NOT NULL,
  amount     bigint      NOT NULL CHECK (amount > 0),
  execute_at timestamptz NOT NULL,
  job_id     uuid        NOT NULL REFERENCES jobs (id),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX points_reservations_user ON points_reservations (tenant, user_id);

-- The ledger: one row per granted reservation. Its primary key is what makes a grant happen once
-- however often the job's message is delivered.
CREATE TABLE points_transactions (
  reservation_id uuid        PRIMARY KEY,
  tenant         text        NOT NULL,
  user_id        text        NOT NULL,
  amount         bigint      NOT NULL,
  job_id         uuid        NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE points_balances (
  tenant     text        NOT NULL,
  user_id    text        NOT NULL,
  balance    bigint      NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant, user_id)
);

-- Job-completion notices for the job's owner.
CREATE TABLE notifications (
  id         uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant     text        NOT NULL,
  owner      text        NOT NULL,
  job_id     uuid        NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  kind       text        NOT NULL,
  message    text        NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  read_at    timestamptz,
  -- One notice per job outcome, however often the event is consumed.
  UNIQUE (job_id, kind)
);
CREATE INDEX notifications_unread ON notifications (tenant, owner, created_at DESC) WHERE read_at IS NULL;

-- Lifecycle events go to Kafka jobs.events through the same outbox relay as jobs.
ALTER TABLE job_events ADD COLUMN published_at timestamptz;
CREATE INDEX job_events_unpublished ON job_events (id) WHERE published_at IS NULL;

-- Wakes the outbox relay as soon as there is something to publish, instead of waiting for a poll.
CREATE FUNCTION conveyor_notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('conveyor_outbox', TG_TABLE_NAME);
  RETURN NULL;
END $$;
CREATE TRIGGER jobs_notify_outbox AFTER INSERT OR UPDATE OF status ON jobs
  FOR EACH STATEMENT EXECUTE FUNCTION conveyor_notify_outbox();
CREATE TRIGGER job_events_notify_outbox AFTER INSERT ON job_events
  FOR EACH STATEMENT EXECUTE FUNCTION conveyor_notify_outbox();

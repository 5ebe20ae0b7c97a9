-- JobSchedules kept in Postgres: the local source of cron schedules (SCHEDULES_SOURCE=postgres),
-- written over HTTP by the api (services/api/src/schedules) and fired by the scheduler's leader.
-- On Kubernetes the JobSchedule custom resource is the record instead and this table stays empty.
-- `spec` has the custom resource's spec shape; `status` is what the scheduler last wrote (the CR's
-- status subresource here). `uid` is part of every fire's idempotency key, as the CR's uid is.
CREATE TABLE schedules (
  uid uuid PRIMARY KEY,
  tenant text NOT NULL,
  name text NOT NULL,
  spec jsonb NOT NULL,
  generation integer NOT NULL DEFAULT 1,
  status jsonb NOT NULL DEFAULT '{}',
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant, name)
);

-- The scheduler's leader LISTENs here and resyncs (and every few seconds anyway). A trigger, so any
-- writer (the api, psql) is heard, only after the commit, and the scheduler's own status writes are not.
CREATE FUNCTION schedules_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('conveyor_schedules', COALESCE(NEW.uid, OLD.uid)::text);
  RETURN NULL;
END $$;
CREATE TRIGGER schedules_changed AFTER INSERT OR DELETE OR UPDATE OF spec, generation ON schedules
  FOR EACH ROW EXECUTE FUNCTION schedules_notify();

-- A schedule's runs (the jobs its fires and trigger-nows created) by their idempotency key prefix
-- `schedule:<uid>:`, newest first, without walking the tenant's other jobs.
CREATE INDEX jobs_schedule_runs ON jobs (tenant, (idempotency_key COLLATE "C"))
  WHERE idempotency_key LIKE 'schedule:%';

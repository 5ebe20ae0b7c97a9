-- Every statement that makes a job publishable (create, dispatch, re-drive) also inserts a
-- job_events row, so the job_events trigger alone wakes the outbox relay. The jobs trigger fired on
-- every insert and status change and woke every scheduler for immediate jobs too; now it only
-- announces scheduled jobs, on a channel of their own.
DROP TRIGGER jobs_notify_outbox ON jobs;

CREATE FUNCTION conveyor_notify_scheduled() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- One identical payload: Postgres folds the notifications of one transaction into one.
  PERFORM pg_notify('conveyor_scheduled', '');
  RETURN NULL;
END $$;

CREATE TRIGGER jobs_notify_scheduled AFTER INSERT OR UPDATE OF status, run_at ON jobs
  FOR EACH ROW WHEN (NEW.status = 'scheduled') EXECUTE FUNCTION conveyor_notify_scheduled();

-- Retention (scheduler/src/retention): finished jobs, their events, notifications and idempotency
-- keys are removed in small batches once past their policy. Each index below serves one of those
-- deletes, so a pass reads only the rows it removes however large the history grows.

-- Finished jobs, oldest first. Partial: a job enters it once, when it finishes.
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE status IN ('success', 'failed', 'cancelled');
-- Idempotency keys are forgotten after a day (the key is cleared; the job stays).
CREATE INDEX jobs_idempotency_created ON jobs (created_at) WHERE idempotency_key IS NOT NULL;
-- Notifications of jobs still kept expire on their own clock.
CREATE INDEX notifications_created ON notifications (created_at);

-- A reservation is part of the points ledger and outlives the job that granted it.
ALTER TABLE points_reservations DROP CONSTRAINT points_reservations_job_id_fkey;
ALTER TABLE points_reservations ALTER COLUMN job_id DROP NOT NULL;
ALTER TABLE points_reservations
  ADD CONSTRAINT points_reservations_job_id_fkey FOREIGN KEY (job_id) REFERENCES jobs (id) ON DELETE SET NULL;

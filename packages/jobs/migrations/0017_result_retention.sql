-- A job type's resultRetentionSeconds, copied onto each job at submit (as its other defaults are):
-- the scheduler's retention drops the result (and its S3 object) that long after the job finished,
-- keeps the job, and marks when. GET /jobs/{id}/result then answers 410.
ALTER TABLE jobs ADD COLUMN result_retention_seconds integer CHECK (result_retention_seconds >= 60),
                 ADD COLUMN result_expired_at timestamptz;
-- Only jobs whose result is still kept under a limit: jobs of types without one never enter it.
CREATE INDEX jobs_result_expiry ON jobs (finished_at)
  WHERE status = 'success' AND result_retention_seconds IS NOT NULL AND result_expired_at IS NULL;

-- A failed attempt no longer waits in its SQS message (whose receive count would reach the queue's
-- maxReceiveCount before a job's maxAttempts): the worker stores the job as `retrying` with run_at
-- set to its next attempt and no message, and the scheduler's dispatcher sends it when due, as it
-- does delayed jobs. Its index of due jobs covers both. A `retrying` row left by an older worker
-- whose run_at is past is dispatched once more: a duplicate message its claim makes harmless.
DROP INDEX jobs_due;
CREATE INDEX jobs_due ON jobs (run_at) WHERE status IN ('scheduled', 'retrying');

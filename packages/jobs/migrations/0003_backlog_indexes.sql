-- Retry-After: the queued/retrying backlog of a worker pool, oldest first.
CREATE INDEX jobs_backlog ON jobs (type, created_at) WHERE status IN ('queued', 'retrying');
-- Retry-After: jobs finished during the last minute (completion rate, mean run time).
CREATE INDEX jobs_finished_recent ON jobs (finished_at) WHERE finished_at IS NOT NULL;

-- GET /dlq: a pool's dead letters (jobs that ended failed, their last message in the pool's DLQ),
-- newest death first, paged by (finished_at, id).
CREATE INDEX jobs_dead ON jobs (finished_at DESC, id DESC) WHERE status = 'failed';

-- Free labels a client gives a job at submit, to find it again (GET /jobs?tags=a,b: jobs carrying all).
-- A constant default adds the column without rewriting the table.
ALTER TABLE jobs ADD COLUMN tags text[] NOT NULL DEFAULT '{}';
-- Containment (tags @> ...) is what a GIN index on an array answers.
CREATE INDEX jobs_tags ON jobs USING gin (tags);
-- conveyor:admin lists across tenants: the same keyset order without the tenant in front.
CREATE INDEX jobs_created ON jobs (created_at DESC, id DESC);

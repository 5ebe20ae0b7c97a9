-- Fairness between tenants (docs/design.md, "Fairness between tenants"). A job submitted while its
-- tenant already has more than a threshold of jobs waiting in its pool is stored `overflow`: the
-- relay claims it after regular rows and the bridge routes it to the pool's overflow lane, which
-- workers serve after the regular one with a guaranteed share. A constant default adds the column
-- without rewriting the table.
ALTER TABLE jobs ADD COLUMN overflow boolean NOT NULL DEFAULT false;

-- The submit counts a tenant's waiting jobs in a pool, up to the threshold, on every insert: an
-- entry per waiting job only, so a quiet tenant's count reads a handful of entries.
CREATE INDEX jobs_tenant_waiting ON jobs (tenant, pool) WHERE status = 'queued';

-- The relay claims each lane oldest first: regular rows never wait behind a burst's backlog.
CREATE INDEX jobs_unpublished_lane ON jobs (overflow, created_at) WHERE status = 'queued' AND published_at IS NULL;
DROP INDEX jobs_unpublished;

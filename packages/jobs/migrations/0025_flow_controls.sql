-- Flow control, part two (docs/design.md "Flow control: resources, pauses, reasons, metrics").

-- A TenantQuota resource owns its tenant's limits: the operator writes them with its
-- namespace/name here, and the admin endpoint answers 409 naming it instead of changing them.
-- NULL: set by the admin endpoint.
ALTER TABLE tenant_quotas ADD COLUMN managed_by text;

-- Pausing a job type or a tenant (POST /job-types/{name}/pause, /tenants/{tenant}/pause and their
-- /resume). One row per paused type or tenant; no row: running. The claim refuses the jobs a row
-- covers, so every worker holds them as soon as the row commits, whatever it heard.
CREATE TABLE job_pauses (
  scope     text NOT NULL CHECK (scope IN ('type', 'tenant')),
  name      text NOT NULL,
  paused_by text NOT NULL,
  paused_at timestamptz NOT NULL DEFAULT now(),
  reason    text,
  PRIMARY KEY (scope, name)
);

-- Who paused or resumed which type or tenant, when and why.
CREATE TABLE job_pause_events (
  id     bigserial PRIMARY KEY,
  scope  text NOT NULL,
  name   text NOT NULL,
  action text NOT NULL CHECK (action IN ('paused', 'resumed')),
  actor  text NOT NULL,
  reason text,
  at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX job_pause_events_name ON job_pause_events (scope, name, at DESC);

-- waiting_reason: the last reason a worker recorded for a waiting job it could not start
-- (tenant_concurrency_limit, key_concurrency_limit, rate_limited, type_paused, tenant_paused,
-- pool_paused); cleared by the claim. A change of it is a `waiting` event on the job's stream.
-- held_at: a paused job's message was deleted and the job is held here until its type and tenant
-- are both running again; the resume sends it again through the outbox. No default: no rewrite.
ALTER TABLE jobs ADD COLUMN waiting_reason text, ADD COLUMN held_at timestamptz;
CREATE INDEX jobs_held ON jobs (type, tenant) WHERE held_at IS NOT NULL;

-- Which pause holds a job of this type and tenant, as waitingReason names it; NULL when none does.
-- The type's pause is named first. Two primary-key probes.
CREATE FUNCTION conveyor_paused(p_type text, p_tenant text) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT CASE
    WHEN EXISTS (SELECT 1 FROM job_pauses WHERE scope = 'type' AND name = p_type) THEN 'type_paused'
    WHEN EXISTS (SELECT 1 FROM job_pauses WHERE scope = 'tenant' AND name = p_tenant) THEN 'tenant_paused'
  END $$;

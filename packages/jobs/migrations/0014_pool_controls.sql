-- Pausing a worker pool (POST /pools/{name}/pause, /resume). One row per pool ever paused; no row
-- means running. Workers read it at start, on the conveyor_pool_control notification and every few
-- seconds; the claim refuses the jobs of a paused pool, so a worker that has not heard yet holds too.
CREATE TABLE pool_controls (
  pool text PRIMARY KEY,
  paused boolean NOT NULL,
  paused_by text,
  paused_at timestamptz,
  reason text,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Who paused or resumed which pool, when and why: the audit trail of pool_controls' changes.
CREATE TABLE pool_control_events (
  id bigserial PRIMARY KEY,
  pool text NOT NULL,
  action text NOT NULL CHECK (action IN ('paused', 'resumed')),
  actor text NOT NULL,
  reason text,
  at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pool_control_events_pool ON pool_control_events (pool, at DESC);

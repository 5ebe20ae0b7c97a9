-- Flows (docs/design.md, "Flows and sagas"): named steps, each an ordinary job once its
-- dependencies succeeded. A flow advances in the transaction that ends one of its jobs (the
-- trigger below), whichever path ends it (a worker's completion, a failure, the reconciler, a
-- cancel): a kill -9 before that commit leaves the job unfinished and the flow unchanged, after it
-- both are written, so no step is lost or enqueued twice.

CREATE TABLE flows (
  id          uuid PRIMARY KEY,
  tenant      text NOT NULL,
  owner       text NOT NULL,
  name        text,
  saga        boolean NOT NULL DEFAULT false,
  status      text NOT NULL CHECK (status IN ('running', 'success', 'failed', 'cancelled',
                                              'compensating', 'compensated', 'compensation_failed')),
  error       text,
  traceparent text,
  trace_id    text,
  request_id  text,
  -- POST /flows' Idempotency-Key: a retry with the same body gets the first flow back.
  idempotency_key text,
  request_hash    text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
CREATE INDEX flows_tenant_created ON flows (tenant, created_at DESC, id DESC);
CREATE UNIQUE INDEX flows_tenant_idempotency_key ON flows (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL;

CREATE TABLE flow_steps (
  flow_id      uuid NOT NULL REFERENCES flows (id) ON DELETE CASCADE,
  name         text NOT NULL,
  -- Its place in the request, to list steps as they were given and to break ties in reverse order.
  ord          integer NOT NULL,
  depends_on   text[] NOT NULL DEFAULT '{}',
  -- Dependencies not yet succeeded: the step is enqueued when it reaches 0.
  pending      integer NOT NULL,
  status       text NOT NULL CHECK (status IN ('waiting', 'running', 'success', 'failed', 'cancelled', 'skipped')),
  -- The validated job to create (type, payload and the resolved options; conveyor_flow_insert_job).
  job          jsonb NOT NULL,
  job_id       uuid UNIQUE,
  finished_at  timestamptz,
  -- A saga's compensating job for this step, run if a later step fails for good.
  compensate   jsonb,
  compensation_status text CHECK (compensation_status IN ('running', 'success', 'failed')),
  compensation_job_id uuid UNIQUE,
  PRIMARY KEY (flow_id, name)
);

-- Set on the jobs of flows only: the trigger's WHEN reads it, so other jobs pay nothing.
ALTER TABLE jobs ADD COLUMN flow_id uuid;

-- One job of a flow (a step's or a compensation's), as createJobs stores one: queued and
-- unpublished for the outbox relay, with its `created` event, traced as the flow's request.
CREATE FUNCTION conveyor_flow_insert_job(p_id uuid, f flows, spec jsonb) RETURNS void
  LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  INSERT INTO jobs (id, tenant, owner, type, payload, status, priority, max_attempts, timeout_seconds,
                    callback_url, traceparent, trace_id, request_id, tags, type_version, pool,
                    result_retention_seconds, concurrency_key, concurrency_limit, rate_limit_key,
                    rate_limit_per_second, flow_id)
  VALUES (p_id, f.tenant, f.owner, spec->>'type', coalesce(spec->'payload', '{}'::jsonb), 'queued',
          coalesce((spec->>'priority')::smallint, 0), coalesce((spec->>'maxAttempts')::int, 3),
          coalesce((spec->>'timeoutSeconds')::int, 300), spec->>'callbackUrl', f.traceparent, f.trace_id,
          f.request_id, ARRAY(SELECT jsonb_array_elements_text(coalesce(spec->'tags', '[]'::jsonb))),
          (spec->>'typeVersion')::int, spec->>'pool', (spec->>'resultRetentionSeconds')::int,
          spec->>'concurrencyKey', (spec->>'concurrencyLimit')::int, spec->>'rateLimitKey',
          (spec->>'rateLimitPerSecond')::int, f.id);
  INSERT INTO job_events (job_id, type, data)
  VALUES (p_id, 'created', jsonb_build_object('status', 'queued', 'type', spec->>'type', 'flowId', f.id));
END $$;

-- Enqueues every waiting step of a running flow whose dependencies all succeeded; returns how many.
CREATE FUNCTION conveyor_flow_enqueue_ready(p_flow uuid) RETURNS integer
  LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  f flows;
  s flow_steps;
  n integer := 0;
  id uuid;
BEGIN
  SELECT * INTO f FROM flows WHERE flows.id = p_flow;
  IF NOT FOUND OR f.status <> 'running' THEN RETURN 0; END IF;
  FOR s IN SELECT * FROM flow_steps WHERE flow_id = p_flow AND status = 'waiting' AND pending = 0 ORDER BY ord FOR UPDATE LOOP
    id := gen_random_uuid();
    PERFORM conveyor_flow_insert_job(id, f, s.job);
    UPDATE flow_steps SET status = 'running', job_id = id WHERE flow_id = p_flow AND name = s.name;
    n := n + 1;
  END LOOP;
  RETURN n;
END $$;

-- After a step ended: a running flow whose steps all succeeded succeeds; a compensating one starts
-- the compensation of its latest succeeded step not yet compensated (one at a time, so in reverse
-- order of success), once no step runs any more; with none left it is compensated.
CREATE FUNCTION conveyor_flow_settle(p_flow uuid) RETURNS void
  LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  f flows;
  s flow_steps;
  id uuid;
BEGIN
  SELECT * INTO f FROM flows WHERE flows.id = p_flow FOR UPDATE;
  IF f.status = 'running' THEN
    IF NOT EXISTS (SELECT 1 FROM flow_steps WHERE flow_id = p_flow AND status <> 'success') THEN
      UPDATE flows SET status = 'success', finished_at = now(), updated_at = now() WHERE flows.id = p_flow;
    END IF;
    RETURN;
  END IF;
  IF f.status <> 'compensating' THEN RETURN; END IF;
  IF EXISTS (SELECT 1 FROM flow_steps WHERE flow_id = p_flow AND (status = 'running' OR compensation_status = 'running')) THEN
    RETURN;
  END IF;
  SELECT * INTO s FROM flow_steps
   WHERE flow_id = p_flow AND status = 'success' AND compensate IS NOT NULL AND compensation_status IS NULL
   ORDER BY finished_at DESC, ord DESC LIMIT 1 FOR UPDATE;
  IF NOT FOUND THEN
    UPDATE flows SET status = 'compensated', finished_at = now(), updated_at = now() WHERE flows.id = p_flow;
    RETURN;
  END IF;
  id := gen_random_uuid();
  PERFORM conveyor_flow_insert_job(id, f, s.compensate);
  UPDATE flow_steps SET compensation_status = 'running', compensation_job_id = id WHERE flow_id = p_flow AND name = s.name;
END $$;

-- A flow's job reached an end (success, failed, cancelled): record it on its step and advance the
-- flow, in the transaction that ended the job. The flow row is locked first, so two steps ending
-- at once advance it one after the other and each sees the other's result.
CREATE FUNCTION conveyor_flow_job_ended() RETURNS trigger
  LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  f flows;
  s flow_steps;
BEGIN
  SELECT * INTO f FROM flows WHERE id = NEW.flow_id FOR UPDATE;
  IF NOT FOUND THEN RETURN NULL; END IF;
  SELECT * INTO s FROM flow_steps WHERE job_id = NEW.id;
  IF FOUND THEN
    IF s.status <> 'running' THEN RETURN NULL; END IF;
    UPDATE flow_steps SET status = NEW.status, finished_at = now() WHERE flow_id = f.id AND name = s.name;
    IF NEW.status = 'success' THEN
      UPDATE flow_steps SET pending = pending - 1 WHERE flow_id = f.id AND status = 'waiting' AND s.name = ANY (depends_on);
      PERFORM conveyor_flow_enqueue_ready(f.id);
    ELSIF f.status = 'running' THEN
      -- A step failed for good (or its job was cancelled): the flow fails, or compensates if a saga.
      UPDATE flows SET status = CASE WHEN saga THEN 'compensating' ELSE 'failed' END,
                       error = format('step %s %s: %s', s.name, NEW.status, coalesce(NEW.error, NEW.status)),
                       finished_at = CASE WHEN saga THEN NULL ELSE now() END, updated_at = now()
       WHERE id = f.id;
      UPDATE flow_steps SET status = 'skipped' WHERE flow_id = f.id AND status = 'waiting';
    END IF;
    PERFORM conveyor_flow_settle(f.id);
    RETURN NULL;
  END IF;
  SELECT * INTO s FROM flow_steps WHERE compensation_job_id = NEW.id;
  IF NOT FOUND OR s.compensation_status <> 'running' THEN RETURN NULL; END IF;
  UPDATE flow_steps SET compensation_status = CASE WHEN NEW.status = 'success' THEN 'success' ELSE 'failed' END
   WHERE flow_id = f.id AND name = s.name;
  IF NEW.status = 'success' THEN
    PERFORM conveyor_flow_settle(f.id);
  ELSE
    UPDATE flows SET status = 'compensation_failed',
                     error = coalesce(error || '; ', '') || format('compensation of %s %s: %s', s.name, NEW.status, coalesce(NEW.error, NEW.status)),
                     finished_at = now(), updated_at = now()
     WHERE id = f.id AND status = 'compensating';
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER jobs_flow_advance AFTER UPDATE OF status ON jobs
  FOR EACH ROW
  WHEN (NEW.flow_id IS NOT NULL AND OLD.status IS DISTINCT FROM NEW.status
        AND NEW.status IN ('success', 'failed', 'cancelled'))
  EXECUTE FUNCTION conveyor_flow_job_ended();

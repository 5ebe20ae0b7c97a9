-- Quotas and concurrency limits (design.md "Quotas and concurrency limits"). Postgres arbitrates
-- every limit, so it holds across any number of api replicas and workers.

-- A tenant's limits, set by an administrator (PUT /tenants/{tenant}/quota). No row, or a null
-- column: no such limit. The bounds keep each check's count small (they are also the api's 422s).
CREATE TABLE tenant_quotas (
  tenant             text PRIMARY KEY,
  -- Jobs waiting (scheduled, queued, retrying) at most; a submit over it is refused (429).
  max_queued         integer CHECK (max_queued BETWEEN 1 AND 100000),
  -- Jobs processing at most; the claim refuses to start more, they wait (tenant_concurrency_limit).
  max_running        integer CHECK (max_running BETWEEN 1 AND 10000),
  -- Jobs created in any sliding minute at most; a submit over it is refused (429).
  submits_per_minute integer CHECK (submits_per_minute BETWEEN 1 AND 100000),
  updated_by         text NOT NULL,
  updated_at         timestamptz NOT NULL DEFAULT now()
);

-- At most concurrency_limit jobs of the tenant with the same key run at once, and at most
-- rate_limit_per_second jobs with the same rate-limit key start in any second (given at submit).
ALTER TABLE jobs ADD COLUMN concurrency_key text, ADD COLUMN concurrency_limit integer,
  ADD COLUMN rate_limit_key text, ADD COLUMN rate_limit_per_second integer,
  ADD CONSTRAINT jobs_concurrency_limit CHECK ((concurrency_key IS NULL) = (concurrency_limit IS NULL) AND (concurrency_limit IS NULL OR concurrency_limit >= 1)),
  ADD CONSTRAINT jobs_rate_limit CHECK ((rate_limit_key IS NULL) = (rate_limit_per_second IS NULL) AND (rate_limit_per_second IS NULL OR rate_limit_per_second >= 1));

-- The running jobs of a tenant, and of one of its keys: what the start check counts.
CREATE INDEX jobs_running_tenant_key ON jobs (tenant, concurrency_key) WHERE status = 'processing';
-- The latest starts of a rate-limit key.
CREATE INDEX jobs_rate_limit_starts ON jobs (tenant, rate_limit_key, started_at) WHERE rate_limit_key IS NOT NULL;

-- One advisory lock per limit: whoever checks a limit holds its lock until it commits, so the next
-- checker (waiting for the lock) counts with a snapshot that sees the first one's rows.
CREATE FUNCTION conveyor_limit_lock(kind text, tenant text, key text DEFAULT NULL) RETURNS bigint
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT hashtextextended(kind || E'\x1f' || tenant || E'\x1f' || coalesce(key, ''), 20) $$;

-- Starting a job (any state -> processing) within its tenant's max_running and its key's limit.
-- A row trigger in PL/pgSQL because its queries see the rows the same claim already started
-- (a batch claim starts several) and, being VOLATILE, take a fresh snapshot after the lock: two
-- workers claiming for one tenant at once are serialised by the lock, and the second counts the
-- first's committed start. Returning NULL skips the row: the claim does not take that job.
-- A tenant without a quota and a job without a key cost one primary-key probe here.
CREATE FUNCTION jobs_check_start() RETURNS trigger LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  cap integer;
BEGIN
  SELECT max_running INTO cap FROM tenant_quotas WHERE tenant = NEW.tenant;
  IF cap IS NOT NULL THEN
    PERFORM pg_advisory_xact_lock(conveyor_limit_lock('run', NEW.tenant));
    IF (SELECT count(*) FROM jobs WHERE tenant = NEW.tenant AND status = 'processing') >= cap THEN
      RETURN NULL;
    END IF;
  END IF;
  IF NEW.concurrency_key IS NOT NULL THEN
    PERFORM pg_advisory_xact_lock(conveyor_limit_lock('key', NEW.tenant, NEW.concurrency_key));
    IF (SELECT count(*) FROM jobs
         WHERE tenant = NEW.tenant AND concurrency_key = NEW.concurrency_key AND status = 'processing') >= NEW.concurrency_limit THEN
      RETURN NULL;
    END IF;
  END IF;
  IF NEW.rate_limit_key IS NOT NULL THEN
    -- Starts in the last second by the database's clock (started_at of every run of the key,
    -- finished or not). The row's own start is stamped with the clock too, so the next checker,
    -- waiting for this lock, counts it within the same second.
    PERFORM pg_advisory_xact_lock(conveyor_limit_lock('rate', NEW.tenant, NEW.rate_limit_key));
    IF (SELECT count(*) FROM jobs
         WHERE tenant = NEW.tenant AND rate_limit_key = NEW.rate_limit_key
           AND started_at > clock_timestamp() - interval '1 second') >= NEW.rate_limit_per_second THEN
      RETURN NULL;
    END IF;
    NEW.started_at := clock_timestamp();
  END IF;
  RETURN NEW;
END $$;

-- A stale run taken over (processing -> processing) keeps the slot it held: no check.
CREATE TRIGGER jobs_check_start BEFORE UPDATE OF status ON jobs
  FOR EACH ROW WHEN (NEW.status = 'processing' AND OLD.status IS DISTINCT FROM 'processing')
  EXECUTE FUNCTION jobs_check_start();

-- Admits a submit of `wanted` jobs for `p_tenant` within its max_queued and submits_per_minute:
-- how many may be created (all of them, or none when `whole`), and when refused, which limit and
-- in how many seconds to try again. Serialised per tenant by an advisory lock held until the
-- inserting statement commits; a tenant without a submit quota costs one primary-key probe.
CREATE FUNCTION conveyor_admit_submit(p_tenant text, wanted integer, whole boolean,
                                      OUT admitted integer, OUT refused_by text, OUT retry_after_seconds integer)
  LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  q tenant_quotas;
  waiting integer;
  recent timestamptz[];
  room integer;
  needed integer;
BEGIN
  admitted := wanted;
  SELECT * INTO q FROM tenant_quotas WHERE tenant = p_tenant;
  IF NOT FOUND OR (q.max_queued IS NULL AND q.submits_per_minute IS NULL) THEN
    RETURN;
  END IF;
  PERFORM pg_advisory_xact_lock(conveyor_limit_lock('submit', p_tenant));
  IF q.submits_per_minute IS NOT NULL THEN
    -- The newest creations of the last minute, up to the limit (jobs_tenant_created), oldest first.
    SELECT coalesce(array_agg(created_at ORDER BY created_at), '{}') INTO recent FROM (
      SELECT created_at FROM jobs WHERE tenant = p_tenant AND created_at > now() - interval '1 minute'
       ORDER BY created_at DESC LIMIT q.submits_per_minute) r;
    room := q.submits_per_minute - cardinality(recent);
    IF room < admitted THEN
      admitted := greatest(room, 0);
      refused_by := 'submitsPerMinute';
      -- Room for all `wanted` once the oldest `needed` creations leave the window.
      needed := wanted - room;
      retry_after_seconds := CASE WHEN wanted > q.submits_per_minute OR needed > cardinality(recent) THEN 60
        ELSE greatest(1, ceil(extract(epoch FROM recent[needed] + interval '1 minute' - now())))::integer END;
    END IF;
  END IF;
  IF q.max_queued IS NOT NULL THEN
    SELECT count(*) INTO waiting FROM (
      SELECT 1 FROM jobs WHERE tenant = p_tenant AND status IN ('scheduled', 'queued', 'retrying') LIMIT q.max_queued) w;
    IF q.max_queued - waiting < admitted THEN
      admitted := greatest(q.max_queued - waiting, 0);
      refused_by := 'maxQueued';
      -- The backlog drains at the tenant's own pace: a short, fixed wait before asking again.
      retry_after_seconds := greatest(coalesce(retry_after_seconds, 0), 2);
    END IF;
  END IF;
  IF whole AND admitted < wanted THEN
    admitted := 0;
  END IF;
END $$;

-- Which start limit holds a waiting job back now, as waitingReason names it; NULL when none does.
-- Read by a worker whose claim was refused and by GET /jobs/{id}; not a lock, a look.
CREATE FUNCTION conveyor_start_limit(p_tenant text, p_key text, p_limit integer, p_rate_key text, p_per_second integer)
  RETURNS text LANGUAGE sql VOLATILE AS $$
  SELECT CASE
    WHEN (SELECT max_running FROM tenant_quotas WHERE tenant = p_tenant)
         <= (SELECT count(*) FROM jobs WHERE tenant = p_tenant AND status = 'processing') THEN 'tenant_concurrency_limit'
    WHEN p_key IS NOT NULL
         AND p_limit <= (SELECT count(*) FROM jobs WHERE tenant = p_tenant AND concurrency_key = p_key AND status = 'processing')
      THEN 'key_concurrency_limit'
    WHEN p_rate_key IS NOT NULL
         AND p_per_second <= (SELECT count(*) FROM jobs WHERE tenant = p_tenant AND rate_limit_key = p_rate_key
                                 AND started_at > clock_timestamp() - interval '1 second')
      THEN 'rate_limited'
  END $$;

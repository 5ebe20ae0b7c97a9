-- Job types are registered, not compiled (issue 21). `job_types` holds one row per name: its latest
-- version (the default for submits) and whether it is retired; `job_type_versions` every version
-- ever registered, never changed or deleted, so a job can always be traced to the schema, pool and
-- defaults it was validated against. The built-in types are registered by migrateJobsSchema
-- (packages/jobs/src/job-types/builtins.ts) from their zod schemas, after this file.
CREATE TABLE job_types (
  name           text PRIMARY KEY,
  latest_version integer NOT NULL,
  retired_at     timestamptz,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE job_type_versions (
  name                     text NOT NULL REFERENCES job_types (name),
  version                  integer NOT NULL CHECK (version >= 1),
  schema                   jsonb NOT NULL,
  pool                     text NOT NULL,
  max_attempts             integer NOT NULL,
  timeout_seconds          integer NOT NULL,
  priority                 smallint NOT NULL,
  max_payload_bytes        integer NOT NULL,
  result_retention_seconds integer,
  created_at               timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (name, version)
);

-- The version a job was validated against, and the pool it was routed to. NULL on jobs created
-- before the registry: their type's pool comes from topology.ts, as it did then.
ALTER TABLE jobs ADD COLUMN type_version integer, ADD COLUMN pool text;

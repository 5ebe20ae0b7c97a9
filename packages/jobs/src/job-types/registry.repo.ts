import type { Pool } from '@conveyor/platform';
import type { Queryable } from '../store/create.js';
import { priorityClassOf, priorityCode, type PriorityClass } from '../priority.js';

/** Every api replica LISTENs here; the payload is the name of the type that changed. */
export const JOB_TYPES_CHANNEL = 'conveyor_job_types';

/** What an operator registers: everything but the version, which the registry assigns. */
export interface JobTypeSpec {
  /** A JSON Schema (draft 2020-12) of the payload. */
  schema: Record<string, unknown>;
  pool: string;
  maxAttempts: number;
  timeoutSeconds: number;
  /** The class its jobs get when the submit names none (stored as its code, priority.ts). */
  priority: PriorityClass;
  maxPayloadBytes: number;
  /** How long a result is meant to be kept; recorded for the operator, not yet enforced. */
  resultRetentionSeconds: number | null;
}

export interface JobTypeVersion extends JobTypeSpec {
  name: string;
  version: number;
  createdAt: Date;
}

export interface RegisterOutcome {
  version: number;
  /** False when the spec equals the latest version of a type that is not retired (an idempotent PUT). */
  created: boolean;
}

interface VersionRow {
  name: string;
  version: number;
  schema: Record<string, unknown>;
  pool: string;
  max_attempts: number;
  timeout_seconds: number;
  priority: number;
  max_payload_bytes: number;
  result_retention_seconds: number | null;
  created_at: Date;
}

export const VERSION_COLUMNS =
  'v.name, v.version, v.schema, v.pool, v.max_attempts, v.timeout_seconds, v.priority, v.max_payload_bytes, v.result_retention_seconds, v.created_at';

export function toVersion(row: VersionRow): JobTypeVersion {
  return {
    name: row.name,
    version: row.version,
    schema: row.schema,
    pool: row.pool,
    maxAttempts: row.max_attempts,
    timeoutSeconds: row.timeout_seconds,
    priority: priorityClassOf(row.priority),
    maxPayloadBytes: row.max_payload_bytes,
    resultRetentionSeconds: row.result_retention_seconds,
    createdAt: row.created_at,
  };
}

/** Key order never makes two equal schemas differ (jsonb reorders keys, a client may too). */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}

const SPEC_FIELDS = ['schema', 'pool', 'maxAttempts', 'timeoutSeconds', 'priority', 'maxPayloadBytes', 'resultRetentionSeconds'] as const;

/** Equal in every field an operator registers (a stored version also has a name, number and time). */
function sameSpec(a: JobTypeSpec, b: JobTypeSpec): boolean {
  return SPEC_FIELDS.every((field) => canonical(a[field]) === canonical(b[field]));
}

/**
 * Registers `spec` as the newest version of `name`, unless it equals the latest version (then
 * nothing changes). Registering a retired type revives it with a new version. The caller announces
 * the change on JOB_TYPES_CHANNEL after this commits (a NOTIFY inside the transaction would
 * serialise commits database-wide, design.md "How a job travels").
 */
export async function registerJobType(pool: Pool, name: string, spec: JobTypeSpec): Promise<RegisterOutcome> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('INSERT INTO job_types (name, latest_version) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING', [name]);
    // The row lock makes concurrent PUTs of one name take their turns: versions never collide.
    const head = (
      await client.query<{ latest_version: number; retired: boolean }>(
        'SELECT latest_version, retired_at IS NOT NULL AS retired FROM job_types WHERE name = $1 FOR UPDATE',
        [name],
      )
    ).rows[0]!;
    const latest = await findVersion(client, name, head.latest_version);
    if (latest && !head.retired && sameSpec(latest, spec)) {
      await client.query('COMMIT');
      return { version: latest.version, created: false };
    }
    const version = head.latest_version + 1;
    await client.query(
      `INSERT INTO job_type_versions (name, version, schema, pool, max_attempts, timeout_seconds, priority, max_payload_bytes, result_retention_seconds)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [name, version, JSON.stringify(spec.schema), spec.pool, spec.maxAttempts, spec.timeoutSeconds, priorityCode(spec.priority), spec.maxPayloadBytes, spec.resultRetentionSeconds],
    );
    await client.query('UPDATE job_types SET latest_version = $2, retired_at = NULL, updated_at = now() WHERE name = $1', [name, version]);
    await client.query('COMMIT');
    return { version, created: true };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

export async function findVersion(db: Queryable, name: string, version: number): Promise<JobTypeVersion | undefined> {
  const { rows } = await db.query<VersionRow>(`SELECT ${VERSION_COLUMNS} FROM job_type_versions v WHERE v.name = $1 AND v.version = $2`, [name, version]);
  return rows[0] && toVersion(rows[0]);
}

/** Announces a change to every api replica; sent after the commit. */
export async function announceJobType(db: Queryable, name: string): Promise<void> {
  await db.query('SELECT pg_notify($1, $2)', [JOB_TYPES_CHANNEL, name]);
}

export interface JobTypeHead {
  name: string;
  latestVersion: number;
  retiredAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface HeadRow {
  name: string;
  latest_version: number;
  retired_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export const toHead = (r: HeadRow): JobTypeHead => ({
  name: r.name,
  latestVersion: r.latest_version,
  retiredAt: r.retired_at,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/**
 * Retires a type (idempotent: the first retirement's time stays); undefined when there is no such
 * type, or when `ifLatest` is given and another version is the latest now (someone registered
 * after the caller did: the type is theirs to keep).
 */
export async function retireJobType(db: Queryable, name: string, ifLatest?: number): Promise<JobTypeHead | undefined> {
  const { rows } = await db.query<HeadRow>(
    `UPDATE job_types SET retired_at = COALESCE(retired_at, now()), updated_at = CASE WHEN retired_at IS NULL THEN now() ELSE updated_at END
      WHERE name = $1 AND ($2::int IS NULL OR latest_version = $2) RETURNING name, latest_version, retired_at, created_at, updated_at`,
    [name, ifLatest ?? null],
  );
  return rows[0] && toHead(rows[0]);
}

import { VERSION_COLUMNS, toVersion, type JobTypeVersion, type Queryable } from '@conveyor/jobs';

export interface JobTypeHead {
  name: string;
  latestVersion: number;
  retiredAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

interface HeadRow {
  name: string;
  latest_version: number;
  retired_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const toHead = (r: HeadRow): JobTypeHead => ({
  name: r.name,
  latestVersion: r.latest_version,
  retiredAt: r.retired_at,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** Every type (or one, by name) with every version: the registry's cache and the admin reads. */
export async function loadJobTypes(db: Queryable, name?: string): Promise<Array<JobTypeHead & { versions: JobTypeVersion[] }>> {
  const filter = name === undefined ? '' : 'WHERE name = $1';
  const args = name === undefined ? [] : [name];
  const heads = await db.query<HeadRow>(`SELECT name, latest_version, retired_at, created_at, updated_at FROM job_types ${filter} ORDER BY name`, args);
  const versions = await db.query<Parameters<typeof toVersion>[0]>(
    `SELECT ${VERSION_COLUMNS} FROM job_type_versions v ${filter.replace('name', 'v.name')} ORDER BY v.name, v.version`,
    args,
  );
  const byName = new Map<string, JobTypeVersion[]>();
  for (const row of versions.rows) {
    const list = byName.get(row.name) ?? [];
    list.push(toVersion(row));
    byName.set(row.name, list);
  }
  return heads.rows.map((h) => ({ ...toHead(h), versions: byName.get(h.name) ?? [] }));
}

/** Retires a type (idempotent: the first retirement's time stays); undefined when there is no such type. */
export async function retireJobType(db: Queryable, name: string): Promise<JobTypeHead | undefined> {
  const { rows } = await db.query<HeadRow>(
    `UPDATE job_types SET retired_at = COALESCE(retired_at, now()), updated_at = CASE WHEN retired_at IS NULL THEN now() ELSE updated_at END
      WHERE name = $1 RETURNING name, latest_version, retired_at, created_at, updated_at`,
    [name],
  );
  return rows[0] && toHead(rows[0]);
}

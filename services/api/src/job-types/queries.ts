import { VERSION_COLUMNS, toHead, toVersion, type HeadRow, type JobTypeHead, type JobTypeVersion, type Queryable } from '@conveyor/jobs';

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

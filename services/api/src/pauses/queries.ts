import type { PauseScope, Queryable } from '@conveyor/jobs';

/** Whether the registry knows the type (built-ins included, retired ones too: their accepted jobs still run). */
export async function jobTypeKnown(db: Queryable, name: string): Promise<boolean> {
  const { rows } = await db.query<{ known: boolean }>('SELECT EXISTS (SELECT 1 FROM job_types WHERE name = $1) AS known', [name]);
  return rows[0]!.known;
}

/** Jobs a pause of this type or tenant holds now (index jobs_held). */
export async function countHeld(db: Queryable, scope: PauseScope, name: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM jobs WHERE held_at IS NOT NULL AND CASE WHEN $1 = 'type' THEN type = $2 ELSE tenant = $2 END`,
    [scope, name],
  );
  return rows[0]!.n;
}

import { createPool, type Pool } from '@conveyor/platform';
import { migrateJobsSchema, type Queryable } from '@conveyor/jobs';
import { createTestDatabase, type TestDatabase } from './database.js';

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

/** Every node that reads a table or an index, as `<node type> <index>? on <table>?`. */
function scans(node: PlanNode): string[] {
  const reads = node['Node Type'] !== 'ModifyTable' && (node['Relation Name'] || node['Index Name']);
  const own = reads ? [[node['Node Type'], node['Index Name'], node['Relation Name'] && `on ${node['Relation Name']}`].filter(Boolean).join(' ')] : [];
  return [...own, ...(node.Plans ?? []).flatMap(scans)];
}

/**
 * The table and index reads of the plan Postgres picks for a statement with these very values (a
 * custom plan, as an unnamed statement runs). Nothing is executed.
 */
export async function explainScans(pool: Pool, text: string, values: unknown[]): Promise<string[]> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query({ text: `EXPLAIN (FORMAT JSON) ${text}`, values });
    return scans(rows[0]['QUERY PLAN'][0].Plan);
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }
}

/** The reads of a plan that use this index. */
export const byIndex = (plan: string[], index: string) => plan.filter((s) => s.includes(` ${index}`));

/** A fresh migrated database with `seed` run in it: the statistics a plan test wants Postgres to hold. */
export async function seededDatabase(seed: string): Promise<{ db: TestDatabase; pool: Pool; drop(): Promise<void> }> {
  const db = await createTestDatabase();
  const pool = createPool({ connectionString: db.url, max: 2 });
  await migrateJobsSchema(pool);
  await pool.query(seed);
  return {
    db,
    pool,
    drop: async () => {
      await pool.end();
      await db.drop();
    },
  };
}

/**
 * The statements a store function sends, without running them: it gets a stand-in connection that
 * records each one and answers one empty row, so the plan of the very text and values it builds can
 * be read with explainScans.
 */
export async function capturedStatements(run: (db: Queryable) => Promise<unknown>): Promise<Array<{ text: string; values: unknown[] }>> {
  const sent: Array<{ text: string; values: unknown[] }> = [];
  const recorder = {
    query: async (config: string | { text: string; values?: unknown[] }, values?: unknown[]) => {
      sent.push(typeof config === 'string' ? { text: config, values: values ?? [] } : { text: config.text, values: config.values ?? values ?? [] });
      return { rows: [{}], rowCount: 0 };
    },
  } as unknown as Queryable;
  await run(recorder);
  return sent;
}

import pg from 'pg';
import { infra, uniqueName } from './infra.js';

export interface TestDatabase {
  url: string;
  name: string;
  drop: () => Promise<void>;
}

/** A fresh, empty database of its own for one test file; dropped afterwards. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = uniqueName('t').toLowerCase();
  const admin = new pg.Client({ connectionString: infra.postgresUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(infra.postgresUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: async () => {
      const client = new pg.Client({ connectionString: infra.postgresUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

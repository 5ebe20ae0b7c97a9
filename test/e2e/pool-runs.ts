import { expect } from 'vitest';
import type pg from 'pg';
import type { ConveyorClient } from './client.js';

/** What the flow-control tests (priority, fairness) read and do to the default pool as its admin, and beneath the API. */
export function poolRuns(admin: ConveyorClient, db: pg.Pool) {
  return {
    /** The pool's queue numbers from GET /pools/default (admin: SQS's counts). */
    queue: async <Q>() => {
      const res = await admin.request('/pools/default');
      expect(res.status).toBe(200);
      return ((await res.json()) as { queue: Q }).queue;
    },
    control: async (action: 'pause' | 'resume') => expect((await admin.request(`/pools/default/${action}`, { method: 'POST' })).status).toBe(200),
    /** When each job started (its started events: more than one would be a duplicate run). */
    starts: async (ids: string[]) => {
      const { rows } = await db.query<{ id: string; at: Date[] }>(
        "SELECT j.id, array_agg(e.created_at ORDER BY e.id) AS at FROM jobs j JOIN job_events e ON e.job_id = j.id AND e.type = 'started' WHERE j.id = ANY($1) GROUP BY j.id",
        [ids],
      );
      return new Map(rows.map((r) => [r.id, r.at]));
    },
    /** How many of the jobs succeeded. */
    finished: async (ids: string[]) =>
      (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1) AND status = 'success'", [ids])).rows[0]!.n,
  };
}

import type pg from 'pg';
import type { Accepted } from './load.js';

export const TERMINAL = ['success', 'failed', 'cancelled'] as const;
const TERMINAL_EVENTS = new Set(['succeeded', 'failed', 'cancelled']);

/**
 * The order a job's job_events rows (by id) must follow. Postgres is the source of truth and every
 * status change writes its event in the same transaction as a conditional UPDATE, so the table
 * admits no tolerated duplicates:
 *  - the first event is `created`, exactly once;
 *  - `succeeded`/`failed` come only after a `started` (an attempt ran), `retried` only after one;
 *  - exactly one terminal event (`succeeded`, `failed`, `cancelled`) per life, and it is the
 *    life's last event; a `retried` after a terminal event (a manual retry or DLQ redrive) starts
 *    a new life, and the last life ends terminal too;
 *  - `started` appears once per claim: their count equals jobs.attempts.
 * Duplicates are tolerated by design only on the Kafka event log (the outbox relay is
 * at-least-once: a relay killed between send and `published_at` sends again); consumers
 * deduplicate there by eventId, so that log is not checked for uniqueness here.
 */
export function eventOrderProblems(types: string[], attempts: number): string[] {
  const problems: string[] = [];
  if (types[0] !== 'created') problems.push(`first event is ${types[0] ?? 'missing'}`);
  if (types.filter((t) => t === 'created').length !== 1) problems.push('created not exactly once');
  // Lives: the events up to each terminal event that a `retried` reopens.
  let ended: string | undefined;
  for (const t of types) {
    if (ended && t !== 'retried') problems.push(`${t} after ${ended}`);
    if (t === 'retried') ended = undefined;
    else if (TERMINAL_EVENTS.has(t)) ended ??= t;
  }
  if (!ended) problems.push('no terminal event last');
  let started = 0;
  for (const t of types) {
    if (t === 'started') started++;
    if ((t === 'succeeded' || t === 'failed' || t === 'retried') && started === 0) problems.push(`${t} before any started`);
  }
  if (started !== attempts) problems.push(`${started} started events for ${attempts} attempts`);
  return problems;
}

export interface Verdict {
  accepted: number;
  distinctJobs: number;
  completed: number;
  failedAsDesigned: number;
  unexpected: Array<{ jobId: string; kind: string; status: string; error: string | null }>;
  lost: string[];
  stuck: Array<{ jobId: string; status: string }>;
  duplicatedEffects: Array<{ userId: string; balance: number; expected: number }>;
  reservationsGrantedTwice: number;
  eventOrder: Array<{ jobId: string; problems: string[] }>;
}

export async function checkInvariants(db: pg.Pool, accepted: Accepted[]): Promise<Verdict> {
  const byJob = new Map<string, Accepted>();
  for (const a of accepted) if (!byJob.has(a.jobId)) byJob.set(a.jobId, a);
  const ids = [...byJob.keys()];
  const { rows: jobs } = await db.query<{ id: string; status: string; attempts: number; error: string | null }>(
    'SELECT id, status, attempts, error FROM jobs WHERE id = ANY($1::uuid[])',
    [ids],
  );
  const found = new Map(jobs.map((j) => [j.id, j]));
  const verdict: Verdict = {
    accepted: accepted.length,
    distinctJobs: ids.length,
    completed: 0,
    failedAsDesigned: 0,
    unexpected: [],
    lost: ids.filter((id) => !found.has(id)),
    stuck: [],
    duplicatedEffects: [],
    reservationsGrantedTwice: 0,
    eventOrder: [],
  };
  for (const job of jobs) {
    const a = byJob.get(job.id)!;
    if (!(TERMINAL as readonly string[]).includes(job.status)) verdict.stuck.push({ jobId: job.id, status: job.status });
    else if (job.status === a.expect && a.expect === 'success') verdict.completed++;
    else if (job.status === a.expect) verdict.failedAsDesigned++;
    else verdict.unexpected.push({ jobId: job.id, kind: a.kind, status: job.status, error: job.error });
  }

  const { rows: events } = await db.query<{ job_id: string; types: string[] }>(
    'SELECT job_id, array_agg(type ORDER BY id) AS types FROM job_events WHERE job_id = ANY($1::uuid[]) GROUP BY job_id',
    [ids],
  );
  for (const e of events) {
    const problems = eventOrderProblems(e.types, found.get(e.job_id)?.attempts ?? -1);
    if (problems.length > 0) verdict.eventOrder.push({ jobId: e.job_id, problems });
  }

  // Exactly-once effects: each balance is the sum of the reservations whose grant job succeeded,
  // and the ledger holds at most one row per reservation (its primary key) and adds up the same.
  const { rows: balances } = await db.query<{ user_id: string; balance: string; expected: string; ledger: string }>(`
    SELECT b.user_id, b.balance::text,
           COALESCE((SELECT sum(r.amount) FROM points_reservations r JOIN jobs j ON j.id = r.job_id
                      WHERE r.tenant = b.tenant AND r.user_id = b.user_id AND j.status = 'success'), 0)::text AS expected,
           COALESCE((SELECT sum(t.amount) FROM points_transactions t WHERE t.tenant = b.tenant AND t.user_id = b.user_id), 0)::text AS ledger
      FROM points_balances b`);
  for (const b of balances) {
    if (b.balance !== b.expected || b.ledger !== b.expected) {
      verdict.duplicatedEffects.push({ userId: b.user_id, balance: Number(b.balance), expected: Number(b.expected) });
    }
  }
  const { rows: twice } = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM (SELECT job_id FROM points_transactions GROUP BY job_id HAVING count(*) > 1) x',
  );
  verdict.reservationsGrantedTwice = twice[0]!.n;
  return verdict;
}

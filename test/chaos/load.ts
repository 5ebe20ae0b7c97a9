import { randomUUID } from 'node:crypto';

/** What the load generator was told by a 202: the job and what it was designed to end as. */
export interface Accepted {
  jobId: string;
  kind: 'noop' | 'sleep' | 'points' | 'points-duplicate' | 'designed-to-fail';
  expect: 'success' | 'failed';
  acceptedAt: number;
  reservation?: { userId: string; amount: number; key: string };
}

export interface LoadStats {
  accepted: Accepted[];
  /** Submissions that got no 202 (service down, 5xx, connection refused): the client saw them fail. */
  refused: Map<string, number>;
  /** Same Idempotency-Key answered with a different jobId: must stay 0. */
  idempotencyViolations: string[];
}

const USERS = ['alice', 'bob', 'carol', 'dave', 'erin'];
const SLEEPS = [20, 100, 500, 1500, 4000];

/**
 * Steady mixed load through the gateway at `ratePerSecond`: noop, sleep of various lengths,
 * points reservations (some sent twice with the same Idempotency-Key) and a few jobs designed to
 * fail (a sleep longer than its timeout, one attempt). Runs until stop() is called.
 */
export function startLoad(options: { baseUrl: string; token: string; ratePerSecond: number; seed?: number }) {
  const stats: LoadStats = { accepted: [], refused: new Map(), idempotencyViolations: [] };
  let stopped = false;
  const inFlight = new Set<Promise<void>>();
  let rnd = options.seed ?? 42;
  const random = () => {
    rnd = (rnd * 1103515245 + 12345) % 2 ** 31;
    return rnd / 2 ** 31;
  };
  const refuse = (reason: string) => stats.refused.set(reason, (stats.refused.get(reason) ?? 0) + 1);

  const post = async (path: string, body: unknown, key?: string): Promise<string | undefined> => {
    try {
      const res = await fetch(`${options.baseUrl}${path}`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${options.token}`,
          'content-type': 'application/json',
          ...(key ? { 'idempotency-key': key } : {}),
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
      const text = await res.text();
      if (res.status !== 202) {
        refuse(`status ${res.status}`);
        return undefined;
      }
      return (JSON.parse(text) as { jobId: string }).jobId;
    } catch (error) {
      refuse((error as Error).name === 'TimeoutError' ? 'timeout' : 'connection error');
      return undefined;
    }
  };

  const one = async () => {
    const r = random();
    const acceptedAt = Date.now();
    if (r < 0.3) {
      const jobId = await post('/jobs', { type: 'noop', payload: { n: Math.floor(random() * 1e6) }, maxAttempts: 20 });
      if (jobId) stats.accepted.push({ jobId, kind: 'noop', expect: 'success', acceptedAt });
    } else if (r < 0.6) {
      const ms = SLEEPS[Math.floor(random() * SLEEPS.length)]!;
      const jobId = await post('/jobs', { type: 'sleep', payload: { ms }, maxAttempts: 20, timeoutSeconds: 60 });
      if (jobId) stats.accepted.push({ jobId, kind: 'sleep', expect: 'success', acceptedAt });
    } else if (r < 0.95) {
      const reservation = { userId: USERS[Math.floor(random() * USERS.length)]!, amount: 1 + Math.floor(random() * 100), key: randomUUID() };
      const body = { userId: reservation.userId, amount: reservation.amount, executeAt: new Date(Date.now() + Math.floor(random() * 3000)).toISOString() };
      const jobId = await post('/points/reservations', body, reservation.key);
      if (!jobId) return;
      stats.accepted.push({ jobId, kind: 'points', expect: 'success', acceptedAt, reservation });
      if (random() < 0.3) {
        // The client retries the same reservation: one job, one grant.
        const again = await post('/points/reservations', body, reservation.key);
        if (again && again !== jobId) stats.idempotencyViolations.push(`${reservation.key}: ${jobId} then ${again}`);
        if (again) stats.accepted.push({ jobId: again, kind: 'points-duplicate', expect: 'success', acceptedAt, reservation });
      }
    } else {
      const jobId = await post('/jobs', { type: 'sleep', payload: { ms: 5000 }, timeoutSeconds: 1, maxAttempts: 1 });
      if (jobId) stats.accepted.push({ jobId, kind: 'designed-to-fail', expect: 'failed', acceptedAt });
    }
  };

  const loop = (async () => {
    const interval = 1000 / options.ratePerSecond;
    let next = Date.now();
    while (!stopped) {
      const p = one().finally(() => inFlight.delete(p));
      inFlight.add(p);
      next += interval;
      await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
      // Never build an unbounded backlog of requests while a service is down.
      if (inFlight.size > 200) await Promise.race(inFlight);
    }
  })();

  return {
    stats,
    stop: async () => {
      stopped = true;
      await loop;
      await Promise.all(inFlight);
    },
  };
}

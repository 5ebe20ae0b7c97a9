import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';

/** Where and how to submit one job; `body(seq)` gives the JSON text of the seq-th request. */
export interface Target {
  url: string;
  headers: Record<string, string>;
  body: (seq: number) => string;
}

export interface LoadResult {
  sent: number;
  ok: number;
  errors: number;
  /** ms from each request's scheduled send time (open loop) or actual send time (closed loop) to its answer */
  latencies: number[];
  seconds: number;
  statuses: Record<string, number>;
}

/** One keep-alive pool per run, enough connections that the generator itself never queues. */
export function createPool(url: string, connections: number): Pool {
  return new Pool(new URL(url).origin, { connections, pipelining: 1, keepAliveTimeout: 30_000, headersTimeout: 30_000, bodyTimeout: 30_000 });
}

async function submit(pool: Pool, target: Target, seq: number, result: LoadResult): Promise<void> {
  try {
    const res = await pool.request({
      method: 'POST',
      path: new URL(target.url).pathname,
      headers: { 'content-type': 'application/json', ...target.headers },
      body: target.body(seq),
    });
    await res.body.dump();
    result.statuses[res.statusCode] = (result.statuses[res.statusCode] ?? 0) + 1;
    if (res.statusCode === 202 || res.statusCode === 201 || res.statusCode === 200) result.ok += 1;
    else result.errors += 1;
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'error';
    result.statuses[code] = (result.statuses[code] ?? 0) + 1;
    result.errors += 1;
  }
}

/**
 * Open loop: request i is due at start + i / rate and its latency counts from that due time, so a
 * slow server cannot slow the generator down and hide its own queueing (coordinated omission).
 */
export async function openLoop(pool: Pool, target: Target, rate: number, seconds: number, firstSeq = 0): Promise<LoadResult> {
  const result: LoadResult = { sent: 0, ok: 0, errors: 0, latencies: [], seconds, statuses: {} };
  const total = Math.max(1, Math.round(rate * seconds));
  const start = performance.now();
  const inflight = new Set<Promise<void>>();
  while (result.sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000) + 1);
    for (; result.sent < due; result.sent += 1) {
      const scheduled = start + (result.sent * 1000) / rate;
      const p = submit(pool, target, firstSeq + result.sent, result).then(() => {
        result.latencies.push(performance.now() - scheduled);
        inflight.delete(p);
      });
      inflight.add(p);
    }
    await sleep(1);
  }
  await Promise.all(inflight);
  return result;
}

/** Closed loop: `concurrency` clients each send the next request as soon as the last one answered. */
export async function closedLoop(
  pool: Pool,
  target: Target,
  concurrency: number,
  limit: { seconds?: number; requests?: number },
  firstSeq = 0,
): Promise<LoadResult> {
  const result: LoadResult = { sent: 0, ok: 0, errors: 0, latencies: [], seconds: 0, statuses: {} };
  const start = performance.now();
  const deadline = limit.seconds === undefined ? Infinity : start + limit.seconds * 1000;
  const max = limit.requests ?? Infinity;
  const client = async () => {
    while (performance.now() < deadline && result.sent < max) {
      const seq = firstSeq + result.sent;
      result.sent += 1;
      const t = performance.now();
      await submit(pool, target, seq, result);
      result.latencies.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  result.seconds = (performance.now() - start) / 1000;
  return result;
}

/**
 * A pool's depth and throughput over a past window, read from Prometheus, which already scrapes
 * every worker: the depth from the SQS gauge the workers export (conveyor_sqs_messages) and the
 * throughput from their finished-job counters. Prometheus keeps the history, so the api stores none.
 */
import { HttpError } from '../http-errors.js';

export interface PoolHistorySource {
  /** Prometheus' base URL, e.g. http://prometheus:9090. */
  url: string;
  /** Label matchers every series must also match (this installation's, when one Prometheus scrapes several). */
  selector?: string;
  timeoutMs?: number;
}

export interface PoolHistoryPoint {
  at: string;
  /** Visible messages in the pool's queues; null where no worker reported them. */
  waiting: number | null;
  /** Jobs finished (success or failed) per second over the minute before `at`. */
  donePerSecond: number | null;
}

export interface PoolHistory {
  from: string;
  to: string;
  stepSeconds: number;
  points: PoolHistoryPoint[];
}

/** At most this many points per series, whatever the window: enough for a small chart. */
const MAX_POINTS = 120;
const MIN_STEP_SECONDS = 15;

/** Comma-separated Prometheus label matchers, e.g. `conveyor_instance="dev",namespace=~"conv.*"`. */
export const LABEL_MATCHERS = /^\s*[a-zA-Z_]\w*\s*(=|!=|=~|!~)\s*"(?:[^"\\]|\\.)*"\s*(,\s*[a-zA-Z_]\w*\s*(=|!=|=~|!~)\s*"(?:[^"\\]|\\.)*"\s*)*$/;

const escapeRegex = (value: string) => value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A PromQL string literal holding `value`. */
const quoted = (value: string) => JSON.stringify(value);
const anyOf = (values: readonly string[]) => quoted(values.map(escapeRegex).join('|'));

/** The two PromQL expressions of a pool's history (pure: tested without a Prometheus). */
export function poolHistoryQueries(queues: readonly string[], jobTypes: readonly string[], selector?: string) {
  const extra = selector?.trim() ? `,${selector.trim()}` : '';
  return {
    // Every worker of the pool reports the same queues: one value per queue, then the pool's sum.
    waiting: `sum(max by (queue) (conveyor_sqs_messages{role="queue",state="visible",queue=~${anyOf(queues)}${extra}}))`,
    // Two sums: one rate() over both names would drop the names and collide. Workers start both at 0.
    donePerSecond: ['succeeded', 'failed'].map((end) => `sum(rate(conveyor_jobs_${end}_total{type=~${anyOf(jobTypes)}${extra}}[1m]))`).join(' + '),
  };
}

export function historyWindow(minutes: number, now: Date) {
  const stepSeconds = Math.max(MIN_STEP_SECONDS, Math.ceil((minutes * 60) / MAX_POINTS));
  const end = Math.floor(now.getTime() / 1000 / stepSeconds) * stepSeconds;
  return { start: end - minutes * 60, end, stepSeconds };
}

type Matrix = Array<{ values: Array<[number, string]> }>;

/** Joins the two series on their timestamps (either may lack points the other has). */
export function mergeSeries(waiting: Matrix, done: Matrix): PoolHistoryPoint[] {
  const points = new Map<number, PoolHistoryPoint>();
  const at = (t: number) => {
    let point = points.get(t);
    if (!point) {
      point = { at: new Date(t * 1000).toISOString(), waiting: null, donePerSecond: null };
      points.set(t, point);
    }
    return point;
  };
  for (const [t, v] of waiting[0]?.values ?? []) at(t).waiting = Math.round(Number(v));
  for (const [t, v] of done[0]?.values ?? []) at(t).donePerSecond = Number(v);
  return [...points.entries()].sort(([a], [b]) => a - b).map(([, point]) => point);
}

async function queryRange(source: PoolHistorySource, query: string, window: ReturnType<typeof historyWindow>): Promise<Matrix> {
  const url = new URL('/api/v1/query_range', source.url);
  url.search = new URLSearchParams({ query, start: String(window.start), end: String(window.end), step: String(window.stepSeconds) }).toString();
  let body: { status?: string; error?: string; data?: { resultType?: string; result?: Matrix } };
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(source.timeoutMs ?? 5_000) });
    body = (await res.json()) as typeof body;
  } catch (error) {
    throw new HttpError(502, `Prometheus at ${source.url} did not answer: ${(error as Error).message}`);
  }
  if (body.status !== 'success' || body.data?.resultType !== 'matrix') {
    throw new HttpError(502, `Prometheus refused the history query: ${body.error ?? 'no matrix in its answer'}`);
  }
  return body.data.result ?? [];
}

export async function readPoolHistory(
  source: PoolHistorySource,
  pool: { queues: readonly string[]; jobTypes: readonly string[] },
  minutes: number,
  now: Date,
): Promise<PoolHistory> {
  const window = historyWindow(minutes, now);
  const queries = poolHistoryQueries(pool.queues, pool.jobTypes, source.selector);
  const [waiting, done] = await Promise.all([queryRange(source, queries.waiting, window), queryRange(source, queries.donePerSecond, window)]);
  return {
    from: new Date(window.start * 1000).toISOString(),
    to: new Date(window.end * 1000).toISOString(),
    stepSeconds: window.stepSeconds,
    points: mergeSeries(waiting, done),
  };
}

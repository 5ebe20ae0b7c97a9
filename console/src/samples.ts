/**
 * A pool's depth and throughput over the last hour, for its chart. The api reads them from the
 * Prometheus that scrapes the workers (GET /pools/{name}/history, conveyor:admin): the page talks
 * to its own origin only (CSP `connect-src 'self'`), and Prometheus, which has no notion of
 * tenants or tokens, stays off the public gateway.
 */
import type { PoolHistory } from './ops-api';

export interface Sample {
  /** Epoch milliseconds. */
  at: number;
  /** Null where no worker reported (the line breaks there). */
  depth: number | null;
  throughput: number | null;
}

export function historySamples(history: PoolHistory): Sample[] {
  return history.points.map((p) => ({ at: Date.parse(p.at), depth: p.waiting, throughput: p.donePerSecond }));
}

/**
 * An SVG path through the samples (oldest first) placed by time over the window that ends at
 * `now`, scaled to `max`; a sample without a value starts a new segment.
 */
export function linePath(samples: readonly Sample[], pick: (s: Sample) => number | null, box: { width: number; height: number; now: number; max: number }, windowMs: number): string {
  const { width, height, now, max } = box;
  const top = max > 0 ? max : 1;
  let pen = 'M';
  const parts: string[] = [];
  for (const s of samples) {
    const value = pick(s);
    if (value === null) {
      pen = 'M';
      continue;
    }
    const x = Math.max(0, Math.min(width, width - ((now - s.at) / windowMs) * width));
    const y = height - (Math.max(0, value) / top) * height;
    parts.push(`${pen}${x.toFixed(1)},${y.toFixed(1)}`);
    pen = 'L';
  }
  return parts.join(' ');
}

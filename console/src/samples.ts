/**
 * A pool's depth and throughput over the last hour, for its chart: the page samples the API's own
 * numbers (GET /pools) while it is open and keeps them in sessionStorage, so a reload keeps the
 * hour. Prometheus holds longer history, but the page may talk to its own origin only (CSP
 * `connect-src 'self'`), and Prometheus, which has no notion of tenants or tokens, is not a thing
 * to put behind the public gateway.
 */

export interface Sample {
  /** Epoch milliseconds. */
  at: number;
  depth: number;
  throughput: number;
}

export const WINDOW_MS = 60 * 60 * 1000;
const KEY = 'conveyor.console.pool-samples';

/** Adds a sample, dropping those older than the window and any at the same instant. */
export function addSample(history: readonly Sample[], sample: Sample, windowMs = WINDOW_MS): Sample[] {
  return [...history.filter((s) => s.at > sample.at - windowMs && s.at !== sample.at), sample].sort((a, b) => a.at - b.at);
}

export function loadSamples(): Record<string, Sample[]> {
  try {
    const raw = sessionStorage.getItem(KEY);
    const parsed = raw ? (JSON.parse(raw) as Record<string, Sample[]>) : {};
    return typeof parsed === 'object' && parsed ? parsed : {};
  } catch {
    return {};
  }
}

export function saveSamples(samples: Record<string, Sample[]>): void {
  try {
    sessionStorage.setItem(KEY, JSON.stringify(samples));
  } catch {
    // Storage full or refused: the chart keeps what it has in memory.
  }
}

/** An SVG path through `values` (oldest first) placed by time over the window, scaled to `max`. */
export function linePath(samples: readonly Sample[], pick: (s: Sample) => number, box: { width: number; height: number; now: number; max: number }, windowMs = WINDOW_MS): string {
  const { width, height, now, max } = box;
  const top = max > 0 ? max : 1;
  return samples
    .map((s, i) => {
      const x = Math.max(0, Math.min(width, width - ((now - s.at) / windowMs) * width));
      const y = height - (Math.max(0, pick(s)) / top) * height;
      return `${i === 0 ? 'M' : 'L'}${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(' ');
}

/** Percentile by nearest rank on a sorted copy; NaN for no samples. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

/** Median and range of the repeats of one figure. */
export function spread(runs: readonly number[]): Spread {
  const finite = runs.filter(Number.isFinite);
  return {
    median: round(percentile(finite, 50)),
    min: round(finite.length ? Math.min(...finite) : Number.NaN),
    max: round(finite.length ? Math.max(...finite) : Number.NaN),
    runs: runs.map(round),
  };
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function latencySummary(values: readonly number[]) {
  return {
    count: values.length,
    p50: round(percentile(values, 50)),
    p90: round(percentile(values, 90)),
    p99: round(percentile(values, 99)),
    max: round(values.length ? values.reduce((a, b) => Math.max(a, b), -Infinity) : Number.NaN),
  };
}

const CHART_PERCENTILES = [
  ...Array.from({ length: 46 }, (_, i) => i * 2),
  ...Array.from({ length: 18 }, (_, i) => 91 + i * 0.5),
  ...Array.from({ length: 9 }, (_, i) => Math.round((99.1 + i * 0.1) * 10) / 10),
  100,
];

/** [percentile, ms] pairs dense in the tail, kept for the chart (every value would bloat latest.json). */
export function quantiles(values: readonly number[]): Array<[number, number]> {
  if (values.length === 0) return [];
  const sorted = [...values].sort((a, b) => a - b);
  return CHART_PERCENTILES.map((p) => [p, round(sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!)]);
}

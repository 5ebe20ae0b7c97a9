import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

// Loose on purpose: figures are read back from JSON by name.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Figures = Record<string, any>;

const fmt = (n: unknown, digits = 1) => (typeof n === 'number' && Number.isFinite(n) ? n.toFixed(digits) : '-');
const range = (s: { median: number; min: number; max: number } | undefined, digits = 1) =>
  s ? `${fmt(s.median, digits)} (${fmt(s.min, digits)}-${fmt(s.max, digits)})` : '-';

const cutShort = (f: Figures) => f.endToEnd !== undefined && f.endToEnd.drainFinished < f.endToEnd.drainJobs;

/** The table printed at the end: one column per system, medians with the range of the repeats. */
export function table(results: Record<string, Figures>): string {
  const systems = Object.keys(results);
  const rows: Array<[string, (f: Figures) => string]> = [
    ['1. accepted jobs/s (saturation)', (f) => range(f.accepted?.jobsPerSecond, 0)],
    ['   errors at saturation', (f) => String(f.accepted?.errors ?? '-')],
    ['   submit p50 ms @50%', (f) => range(f.accepted?.atHalf?.p50Ms)],
    ['   submit p99 ms @50%', (f) => range(f.accepted?.atHalf?.p99Ms)],
    ['1b. accepted/s, consumers stopped', (f) => fmt(f.intakeAlone?.jobsPerSecond, 0)],
    ['1c. accepted-batch jobs/s', (f) => (f.acceptedBatch ? `${range(f.acceptedBatch.jobsPerSecond, 0)} (x${f.acceptedBatch.batchSize})` : '-')],
    ['2. e2e drain jobs/s', (f) => `${fmt(f.endToEnd?.drainJobsPerSecond, 0)}${cutShort(f) ? '*' : ''}`],
    ['   e2e sustained jobs/s', (f) => range(f.endToEnd?.sustainedJobsPerSecond, 0)],
    ['3. enqueue->start p50 ms @25%', (f) => range(f.enqueueToStart?.at25pct?.p50Ms)],
    ['   enqueue->start p99 ms @25%', (f) => range(f.enqueueToStart?.at25pct?.p99Ms)],
    ['   enqueue->start p50 ms @50%', (f) => range(f.enqueueToStart?.at50pct?.p50Ms)],
    ['   enqueue->start p99 ms @50%', (f) => range(f.enqueueToStart?.at50pct?.p99Ms)],
    ['4. delayed lateness p50 ms', (f) => fmt(f.delayed?.p50)],
    ['   delayed lateness p99 ms', (f) => fmt(f.delayed?.p99)],
    ['   delayed lateness max ms', (f) => fmt(f.delayed?.max)],
    ['   delayed jobs run early', (f) => String(f.delayed?.early ?? '-')],
    ['   delayed jobs unfinished', (f) => String(f.delayed?.unfinished ?? '-')],
    ['   delayed: seconds to submit all', (f) => fmt(f.delayed?.submissionSeconds)],
    ['   lateness p99 ms, due after that', (f) => fmt(f.delayed?.dueAfterSubmission?.p99)],
    ['5. CPU s / 1k jobs (total)', (f) => `${fmt(f.cpuSecondsPer1000Jobs?.total, 3)}${cutShort(f) ? '*' : ''}`],
    ['   wake-ups per job (all processes)', (f) => fmt(f.activityPerJob?.total?.wakeups)],
    ['   write / read system calls per job', (f) => (f.activityPerJob ? `${fmt(f.activityPerJob.total?.writes)} / ${fmt(f.activityPerJob.total?.reads)}` : '-')],
  ];
  const widths = [Math.max(...rows.map((r) => r[0].length)), ...systems.map((s) => Math.max(s.length, ...rows.map((r) => r[1](results[s]!).length)))];
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[0]!) : c.padStart(widths[i]!))).join('  ');
  const out = [line(['', ...systems]), line(widths.map((w) => '-'.repeat(w)))];
  for (const [label, get] of rows) out.push(line([label, ...systems.map((s) => get(results[s]!))]));
  out.push('* the drain did not finish in time: the rate counts the jobs finished by the deadline, and the CPU');
  out.push('  of accepting every job of the drain is divided among those few (not comparable with the others)');
  out.push('', 'CPU s / 1k jobs per process:');
  for (const s of systems) {
    const cpu = results[s]!.cpuSecondsPer1000Jobs ?? {};
    out.push(`  ${s}: ${Object.entries(cpu).map(([k, v]) => `${k}=${fmt(v, 3)}`).join(' ')}`);
  }
  out.push('', 'per job and process: wake-ups (voluntary context switches), write / read system calls:');
  for (const s of systems) {
    const activity: Record<string, { wakeups: number; reads: number; writes: number }> = results[s]!.activityPerJob ?? {};
    out.push(`  ${s}: ${Object.entries(activity).map(([k, v]) => `${k}=${fmt(v.wakeups)}:${fmt(v.writes)}/${fmt(v.reads)}`).join(' ')}`);
  }
  return out.join('\n');
}

/** Conveyor's figures divided by each peer's (throughput: >1 is better; latency and CPU: <1 is better). */
export function ratios(results: Record<string, Figures>): Record<string, Record<string, number | null>> {
  const c = results.conveyor;
  const out: Record<string, Record<string, number | null>> = {};
  if (!c) return out;
  const div = (a: unknown, b: unknown) => (typeof a === 'number' && typeof b === 'number' && b > 0 ? Math.round((a / b) * 100) / 100 : null);
  for (const [name, f] of Object.entries(results)) {
    if (name === 'conveyor') continue;
    out[`conveyor/${name}`] = {
      accepted: div(c.accepted?.jobsPerSecond?.median, f.accepted?.jobsPerSecond?.median),
      acceptedConsumersStopped: div(c.intakeAlone?.jobsPerSecond, f.intakeAlone?.jobsPerSecond),
      endToEndDrain: div(c.endToEnd?.drainJobsPerSecond, f.endToEnd?.drainJobsPerSecond),
      endToEndSustained: div(c.endToEnd?.sustainedJobsPerSecond?.median, f.endToEnd?.sustainedJobsPerSecond?.median),
      enqueueToStartP99At50: div(c.enqueueToStart?.at50pct?.p99Ms?.median, f.enqueueToStart?.at50pct?.p99Ms?.median),
      // A drain cut short charges its few finished jobs with accepting all of them: no ratio.
      cpuPer1000: cutShort(f) ? null : div(c.cpuSecondsPer1000Jobs?.total, f.cpuSecondsPer1000Jobs?.total),
      wakeupsPerJob: cutShort(f) ? null : div(c.activityPerJob?.total?.wakeups, f.activityPerJob?.total?.wakeups),
    };
  }
  return out;
}

const COLORS = ['#d62728', '#1f77b4', '#2ca02c', '#ff7f0e', '#9467bd'];

/** Latency distributions as percentile curves (log-scale ms), one panel per measure; SVG, then PNG via rsvg-convert. */
export function chart(results: Record<string, Figures>, svgPath: string, pngPath: string, title: string): void {
  const panels: Array<[string, (f: Figures) => Array<[number, number]> | undefined]> = [
    ['submit latency at 50% of saturation', (f) => f.accepted?.atHalf?.distribution],
    ['enqueue-to-start at 50% of e2e rate', (f) => f.enqueueToStart?.distributions?.at50pct],
    ['delayed-job lateness', (f) => f.delayed && f.enqueueToStart?.distributions?.lateness],
  ];
  const W = 420;
  const H = 300;
  const pad = { l: 56, r: 12, t: 28, b: 40 };
  const systems = Object.keys(results);
  const parts: string[] = [];
  panels.forEach(([label, get], i) => {
    const x0 = i * W;
    const series = systems.map((s) => (get(results[s]!) ?? []).map(([p, v]): [number, number] => [p, Math.max(0.1, v)]));
    const all = series.flat().map(([, v]) => v);
    const lo = Math.floor(Math.log10(Math.max(0.1, Math.min(...all, 1))));
    const hi = Math.ceil(Math.log10(Math.max(10, ...all)));
    // Tail-stretched axis (as HdrHistogram plots): p50, p90, p99, p99.9 equally spaced; p100 just after.
    const tail = (q: number) => Math.min(3.3, q >= 100 ? 3.3 : Math.log10(100 / (100 - q)));
    const px = (q: number) => x0 + pad.l + (tail(q) / 3.3) * (W - pad.l - pad.r);
    const py = (v: number) => pad.t + (1 - (Math.log10(v) - lo) / (hi - lo)) * (H - pad.t - pad.b);
    parts.push(`<text x="${x0 + W / 2}" y="18" text-anchor="middle" font-size="13" font-weight="bold">${label}</text>`);
    parts.push(`<rect x="${x0 + pad.l}" y="${pad.t}" width="${W - pad.l - pad.r}" height="${H - pad.t - pad.b}" fill="none" stroke="#999"/>`);
    for (let e = lo; e <= hi; e += 1) {
      const y = py(10 ** e);
      parts.push(`<line x1="${x0 + pad.l}" x2="${x0 + W - pad.r}" y1="${y}" y2="${y}" stroke="#ddd"/>`);
      parts.push(`<text x="${x0 + pad.l - 4}" y="${y + 4}" text-anchor="end" font-size="10">${10 ** e >= 1 ? 10 ** e : (10 ** e).toFixed(1)} ms</text>`);
    }
    for (const q of [0, 50, 90, 99, 99.9]) {
      parts.push(`<line x1="${px(q)}" x2="${px(q)}" y1="${pad.t}" y2="${H - pad.b}" stroke="#eee"/>`);
      parts.push(`<text x="${px(q)}" y="${H - pad.b + 14}" text-anchor="middle" font-size="10">p${q}</text>`);
    }
    parts.push(`<text x="${x0 + W / 2}" y="${H - 8}" text-anchor="middle" font-size="10">percentile (tail stretched)</text>`);
    series.forEach((values, s) => {
      if (values.length < 2) return;
      const pts = values.map(([q, v]) => `${px(q).toFixed(1)},${py(v).toFixed(1)}`).join(' ');
      parts.push(`<polyline points="${pts}" fill="none" stroke="${COLORS[s % COLORS.length]}" stroke-width="2"/>`);
    });
  });
  systems.forEach((s, k) => {
    parts.push(`<rect x="${20 + k * 160}" y="${H + 8}" width="14" height="10" fill="${COLORS[k % COLORS.length]}"/>`);
    parts.push(`<text x="${40 + k * 160}" y="${H + 18}" font-size="12">${s}</text>`);
  });
  parts.push(`<text x="${panels.length * W - 8}" y="${H + 18}" text-anchor="end" font-size="10" fill="#555">${title}</text>`);
  const width = panels.length * W;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${H + 28}" font-family="DejaVu Sans, sans-serif"><rect width="100%" height="100%" fill="white"/>${parts.join('')}</svg>`;
  writeFileSync(svgPath, svg);
  execFileSync('rsvg-convert', ['-f', 'png', '-o', pngPath, svgPath]);
}

// A fixed, moderate arrival rate against Conveyor alone, outside `make bench`: where a job's time
// goes (per hop) and what it costs (CPU seconds per 1,000 jobs, per process) when nothing queues
// up long enough to batch. Usage (infra up, services built):
//   PROBE_RATE=100 PROBE_SECONDS=10 node --import ./bench/node_modules/tsx/dist/loader.mjs bench/src/probe.ts
import { perThousand, snapshot } from './cpu.js';
import { percentile } from './stats.js';
import { startConveyor } from './systems/conveyor.js';

const rate = Number(process.env.PROBE_RATE ?? 100);
const seconds = Number(process.env.PROBE_SECONDS ?? 10);
if (!(rate > 0 && seconds > 0)) throw new Error('PROBE_RATE and PROBE_SECONDS must be positive numbers');

const system = await startConveyor({ concurrency: Number(process.env.BENCH_CONCURRENCY ?? 16) });
const log = (line: string) => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sends `count` jobs of one run at the probe's rate, each at its scheduled time; resolves when all are answered. */
async function submit(run: string, count: number): Promise<void> {
  const target = system.target(run);
  const startedAt = Date.now();
  const answers: Array<Promise<unknown>> = [];
  for (let seq = 0; seq < count; seq++) {
    await sleep(startedAt + (seq * 1000) / rate - Date.now());
    const init = { method: 'POST', headers: { ...target.headers, 'content-type': 'application/json' }, body: target.body(seq) };
    answers.push(fetch(target.url, init).then((res) => res.arrayBuffer()));
  }
  await Promise.all(answers);
}

try {
  await submit('warm-up', rate * 3);
  const before = snapshot(await system.procs());
  const jobs = Math.round(rate * seconds);
  await submit('probe', jobs);
  while ((await system.timings('probe')).length < jobs) await sleep(200);
  const cpu = perThousand(before, snapshot(await system.procs()), jobs);
  const ms = (values: number[]) => `p50 ${percentile(values, 50).toFixed(1)} p99 ${percentile(values, 99).toFixed(1)} ms`;
  const timings = await system.timings('probe');
  log(`${jobs} jobs at ${rate}/s: enqueue-to-start ${ms(timings.map((t) => t.startedMs - t.createdMs))}`);
  for (const [hop, values] of Object.entries((await system.hops?.('probe')) ?? {})) log(`  ${hop}: ${ms(values)}`);
  log(`CPU s / 1k jobs: ${Object.entries(cpu).map(([name, value]) => `${name}=${value.toFixed(2)}`).join(' ')}`);
} finally {
  await system.stop();
}

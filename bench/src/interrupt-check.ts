/**
 * `make bench-smoke` checks that Ctrl-C leaves nothing behind: it starts the bench on Conveyor,
 * interrupts it (SIGINT to the bench process alone, as a supervisor or `kill -INT` would send it)
 * once the services run, and fails unless every process the bench started has exited.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The pids whose parent is `pid` (from /proc). */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .flatMap((entry) => {
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        // Field 4 is the parent pid; the command name (field 2) may hold spaces, so split after it.
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        return ppid === pid ? [Number(entry)] : [];
      } catch {
        return [];
      }
    });
}
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const bench = spawn(process.execPath, ['--import', path.join(BENCH, 'node_modules/tsx/dist/loader.mjs'), path.join(BENCH, 'src/main.ts')], {
  env: { ...process.env, BENCH_SMOKE: '1', BENCH_SYSTEMS: 'conveyor' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
let output = '';
const started = new Promise<void>((resolve, reject) => {
  bench.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    if (output.includes('started in')) resolve();
  });
  bench.once('exit', (code) => reject(new Error(`bench exited (${code}) before its services started:\n${output}`)));
});
await started;
const services = childrenOf(bench.pid!);
if (services.length < 5) throw new Error(`expected the bench to run Conveyor's services, found pids ${services.join(', ')}`);
const exited = new Promise<number | null>((resolve) => bench.once('exit', (code) => resolve(code)));
bench.kill('SIGINT');
const code = await exited;
const deadline = Date.now() + 20_000;
while (services.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
const left = services.filter(alive);
if (left.length > 0) {
  for (const pid of left) process.kill(pid, 'SIGKILL');
  throw new Error(`Ctrl-C left ${left.length} of the bench's ${services.length} services running (pids ${left.join(', ')})`);
}
if (code !== 130) throw new Error(`bench exited ${code} on SIGINT, expected 130`);
process.stdout.write(`bench: SIGINT stopped all ${services.length} processes the bench had started\n`);

import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBenchConfig } from './config.js';
import { summariseProfiles } from './profile-summary.js';
import { chart, ratios, table } from './report.js';
import { runNoisyNeighbour } from './noisy-neighbour.js';
import { runPriority } from './priority.js';
import { runScenarios } from './scenarios.js';
import { startConveyor } from './systems/conveyor.js';
import { startPeer } from './systems/peer.js';
import type { System } from './systems/system.js';

const RESULTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../results');
const log = (line: string) => process.stdout.write(`${line}\n`);

const cfg = loadBenchConfig();
const startedAt = Date.now();
const loadAverageAtStart = os.loadavg();
mkdirSync(RESULTS, { recursive: true });
const profileDir = path.join(RESULTS, 'profiles');
log(`bench: ${cfg.smoke ? 'SMOKE' : 'full'} run of ${cfg.systems.join(', ')}; load average ${loadAverageAtStart.map((l) => l.toFixed(2)).join(' ')}`);

const start = (name: string): Promise<System> => {
  if (name === 'conveyor') {
    const preload = path.join(path.dirname(fileURLToPath(import.meta.url)), 'profile-preload.mjs');
    // OTEL_* from the bench's environment reach Conveyor's services, so the cost of tracing can be
    // measured (OTEL_SDK_DISABLED=true, or a ratio sampler).
    const otel = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[0].startsWith('OTEL_') && e[1] !== undefined));
    const serviceEnv: Record<string, string> = { ...otel, ...(cfg.profile ? { NODE_OPTIONS: `--import ${preload}`, BENCH_PROFILE_DIR: profileDir } : {}) };
    if (cfg.profile) {
      // Only this run's profiles: the summary reads every file in the folder.
      rmSync(profileDir, { recursive: true, force: true });
      mkdirSync(profileDir, { recursive: true });
    }
    return startConveyor({ concurrency: cfg.concurrency, serviceEnv });
  }
  return startPeer(name as 'bullmq' | 'pgboss' | 'pgboss-tuned', cfg.concurrency);
};

// Ctrl-C or a kill mid-run must not leave the system under test behind (services, their database):
// stop the one being started or measured, then exit as a shell does on SIGINT. The run itself then
// fails at its next step; it waits on `interrupted` instead of reporting, until the exit.
let current: Promise<System> | undefined;
let interrupted: Promise<never> | undefined;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    log(`\nbench: ${signal}: stopping the system under test`);
    interrupted = (current ?? Promise.reject(new Error('none')))
      .then((system) => system.stop())
      .catch(() => undefined)
      .then(() => process.exit(130));
  });
}

const results: Record<
  string,
  Awaited<ReturnType<typeof runScenarios>> & { priority?: Awaited<ReturnType<typeof runPriority>>; noisyNeighbour?: Awaited<ReturnType<typeof runNoisyNeighbour>> }
> = {};
const loadAverages: Record<string, number[]> = {};
let failed = false;
for (const name of cfg.systems) {
  log(`\n== ${name} ==`);
  const t = Date.now();
  let system: System | undefined;
  try {
    current = start(name);
    system = await current;
    log(`  started in ${((Date.now() - t) / 1000).toFixed(1)} s: ${system.description}`);
    const figures = await runScenarios(system, cfg, log);
    // Scenarios `priority` and `noisy-neighbour` need priority classes and tenants, which only
    // Conveyor's system has here.
    results[name] = {
      ...figures,
      ...(system.priorityTargets ? { priority: await runPriority(system, cfg.priority, log) } : {}),
      ...(system.tenantTargets ? { noisyNeighbour: await runNoisyNeighbour(system, cfg.noisyNeighbour, log) } : {}),
    };
    loadAverages[name] = os.loadavg();
  } catch (error) {
    if (interrupted) await interrupted;
    failed = true;
    log(`  FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  } finally {
    await system?.stop().catch((error) => log(`  stop failed: ${String(error)}`));
    current = undefined;
  }
  log(`  ${name} took ${((Date.now() - t) / 1000).toFixed(0)} s`);
}

if (interrupted) await interrupted;

const report = {
  generatedAt: new Date().toISOString(),
  mode: cfg.smoke ? 'smoke' : 'full',
  machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, loadAverageAtStart },
  config: cfg,
  loadAverageAfterEachSystem: loadAverages,
  durationSeconds: Math.round((Date.now() - startedAt) / 1000),
  ratios: ratios(results),
  results,
};
const jsonPath = path.join(RESULTS, 'latest.json');
writeFileSync(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
const pngPath = path.join(RESULTS, 'latency.png');
chart(results, path.join(RESULTS, 'latency.svg'), pngPath, `${report.mode} run ${report.generatedAt.slice(0, 16)}, load avg ${os.loadavg()[0]!.toFixed(1)}`);
if (cfg.profile) {
  const summary = summariseProfiles(profileDir);
  writeFileSync(path.join(RESULTS, 'profile-summary.txt'), summary);
  log(summary);
}

log(`\n${table(results)}`);
log(`\nratios (conveyor / peer): ${JSON.stringify(report.ratios, null, 1)}`);
log(`\nwrote ${jsonPath} and ${pngPath} in ${report.durationSeconds} s`);
for (const file of [jsonPath, pngPath]) {
  if (statSync(file).size === 0) failed = true;
}
const missing = cfg.systems.filter((s) => !results[s]);
if (failed || missing.length) {
  log(`bench FAILED: ${missing.length ? `no figures for ${missing.join(', ')}` : 'see above'}`);
  process.exit(1);
}
process.exit(0);

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startConveyor } from './systems/conveyor.js';
import type { System } from './systems/system.js';

/**
 * A scenario run on its own (not in `make bench`): Conveyor started fresh, the scenario run, its
 * figures written to results/<name>.json, the system stopped; exits 1 when the scenario failed.
 */
export async function runAlone<R>(name: string, config: unknown, scenario: (system: System, log: (line: string) => void) => Promise<R>): Promise<never> {
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const system = await startConveyor({ concurrency: Number(process.env.BENCH_CONCURRENCY ?? 16) });
  let failed = false;
  try {
    const result = await scenario(system, log);
    const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), `../results/${name}.json`);
    writeFileSync(file, `${JSON.stringify({ generatedAt: new Date().toISOString(), config, result }, null, 2)}\n`);
    log(`wrote ${file}`);
  } catch (error) {
    failed = true;
    log(`${name} FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  } finally {
    await system.stop();
  }
  process.exit(failed ? 1 : 0);
}

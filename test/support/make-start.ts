import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { WORKER_POOLS } from '../../packages/jobs/src/topology.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { uniqueName } from './infra.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** A set of services started by `make start` itself, on its own ports, database and namespace. */
export interface MadeStack {
  instance: string;
  /** CONVEYOR_PORT_BASE: the gateway's port. */
  portBase: number;
  gatewayUrl: string;
  database: TestDatabase;
  /** Where services.sh writes each process's log. */
  logDir: string;
  env: NodeJS.ProcessEnv;
  /** Runs a make target with the stack's environment, or `env` instead. */
  make: (target: string, env?: NodeJS.ProcessEnv) => Promise<{ stdout: string; stderr: string }>;
  /** `make stop`, then drops the database. */
  stop: () => Promise<void>;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A base port with the blocks services.sh uses (base .. base + 4 + pools, and each + 1000 for an ops port) free. */
export async function freePortBlock(size: number): Promise<number> {
  for (let tries = 0; tries < 50; tries++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const ports = Array.from({ length: size }, (_, i) => base + i).flatMap((port) => [port, port + 1000]);
    if ((await Promise.all(ports.map(portFree))).every(Boolean)) return base;
  }
  throw new Error('no free block of ports');
}

/** Where services.sh puts the pools' workers: the platform's pools, then the team pools (CONVEYOR_WORKER_POOLS) in order. */
export function workerPort(base: number, index: number): number {
  return index === 0 ? base + 3 : base + 4 + index;
}

/**
 * The path a user takes: `make start` (build, migrate, provision, services) with `env` winning over
 * scripts/dev.env, as a user's own environment does. `teamPools`: how many pools the manifests of
 * env.CONVEYOR_WORKER_POOLS hold, for the block of free ports.
 */
export async function makeStart(prefix: string, env: Record<string, string> = {}, { teamPools = 0 } = {}): Promise<MadeStack> {
  const instance = uniqueName(prefix).toLowerCase().replaceAll('_', '-');
  const database = await createTestDatabase();
  // Servers started from another checkout of the repository (a git worktree beside the one that
  // runs them) answer on their ports but are not this checkout's to start: leave them to it.
  const infraElsewhere = !existsSync(path.join(ROOT, '.run/postgres'));
  let fullEnv: NodeJS.ProcessEnv = {};
  const make = (target: string, env: NodeJS.ProcessEnv = fullEnv) =>
    promisify(execFile)('make', ['--no-print-directory', ...(infraElsewhere ? ['-o', 'infra-up'] : []), target], {
      cwd: ROOT,
      env,
      timeout: 240_000,
      maxBuffer: 16 * 1024 * 1024,
    });
  // The ports were free when chosen; on a shared machine another process may take one before the
  // services bind it. That, and only that, is worth a second try on other ports.
  for (let attempt = 1; ; attempt++) {
    const base = await freePortBlock(5 + WORKER_POOLS.length + teamPools);
    fullEnv = {
      ...process.env,
      CONVEYOR_INSTANCE: instance,
      CONVEYOR_PORT_BASE: String(base),
      CONVEYOR_NAMESPACE: instance,
      DATABASE_URL: database.url,
      ...env,
    };
    try {
      await make('start');
      return {
        instance,
        portBase: base,
        gatewayUrl: `http://127.0.0.1:${base}`,
        database,
        logDir: path.join(ROOT, '.run', `services-${instance}`),
        env: fullEnv,
        make,
        stop: async () => {
          await make('stop');
          await database.drop();
        },
      };
    } catch (error) {
      const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
      await make('stop').catch(() => undefined);
      if (attempt < 2 && /EADDRINUSE/.test(stdout + stderr)) continue;
      await database.drop();
      throw new Error(`make start failed:\n${stdout.slice(-3000)}\n${stderr.slice(-3000)}`, { cause: error });
    }
  }
}

/** Running, not merely a zombie its (re)parent has not reaped yet. */
export function isAlive(pid: number): boolean {
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
    return state !== undefined && state !== 'Z';
  } catch {
    return false;
  }
}

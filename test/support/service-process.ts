import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The services with HTTP traffic of their own; the others serve only their operational endpoints. */
const TRAFFIC_SERVICES = new Set(['gateway', 'api']);

export interface RunningService {
  name: string;
  /** The traffic port (gateway, api); for services without traffic, the same as opsUrl. */
  url: string;
  port: number;
  /** /healthz, /readyz and /metrics (OPS_PORT). */
  opsUrl: string;
  opsPort: number;
  process: ChildProcess;
  output: () => string;
  /** Sends the signal and resolves with the exit code (or the signal name if killed by one). */
  stop: (signal?: NodeJS.Signals) => Promise<number | string>;
  /** SIGTERM, then fails with the end of the service's log unless it drained and exited 0. */
  stopCleanly: () => Promise<void>;
  exited: Promise<number | string>;
}

function tail(text: string, lines: number): string {
  return text
    .trimEnd()
    .split('\n')
    .slice(-lines)
    .map((line) => (line.length > 600 ? `${line.slice(0, 600)}…` : line))
    .join('\n');
}

/** Starts a built service exactly as `make dev` does (node + telemetry preload + dist/main.js). */
export async function spawnService(name: string, env: Record<string, string>): Promise<RunningService> {
  const opsPort = Number(env.OPS_PORT ?? (await freePort()));
  const traffic = TRAFFIC_SERVICES.has(name);
  const port = traffic ? Number(env.PORT ?? (await freePort())) : opsPort;
  const child = spawn(
    process.execPath,
    ['--enable-source-maps', '--import', '@conveyor/platform/telemetry', path.join(ROOT, 'services', name, 'dist/main.js')],
    {
      cwd: path.join(ROOT, 'services', name),
      env: { PATH: process.env.PATH, LOG_LEVEL: 'info', SHUTDOWN_GRACE_MS: '10000', ...env, ...(traffic ? { PORT: String(port) } : {}), OPS_PORT: String(opsPort) },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  return {
    name,
    port,
    url: `http://127.0.0.1:${port}`,
    opsPort,
    opsUrl: `http://127.0.0.1:${opsPort}`,
    process: child,
    output: () => output,
    exited,
    stop,
    stopCleanly: async () => {
      const alreadyExited = child.exitCode !== null || child.signalCode !== null;
      const code = await stop('SIGTERM');
      if (code === 0 && !alreadyExited) return;
      const when = alreadyExited ? 'had already exited' : 'did not drain cleanly';
      throw new Error(`${name} ${when} (exit ${code}); the end of its log:\n${tail(output, 40)}`);
    },
  };
}

/** Waits until GET path answers with the wanted status (or any status when none is given). */
export async function waitForHttp(url: string, status?: number, timeoutMs = 20_000): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
      if (status === undefined || res.status === status) return res;
      last = `status ${res.status}: ${await res.text()}`;
    } catch (error) {
      last = String(error);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not answer ${status ?? ''} within ${timeoutMs} ms (last: ${last})`);
}

export async function startService(name: string, env: Record<string, string>, timeoutMs = 45_000): Promise<RunningService> {
  const service = await spawnService(name, env);
  try {
    await Promise.race([
      waitForHttp(`${service.opsUrl}/healthz`, 200, timeoutMs),
      service.exited.then((code) => {
        throw new Error(`${name} exited with ${code} while starting:\n${service.output()}`);
      }),
    ]);
  } catch (error) {
    await service.stop('SIGKILL');
    throw error;
  }
  return service;
}

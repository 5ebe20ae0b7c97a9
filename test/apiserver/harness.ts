import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const SOURCES = ['go.mod', 'go.sum', 'main.go'];
const BINARY = 'kube-apiserver-test';

/** Generous on purpose: the first build of kube-apiserver on two cores takes minutes. */
export const BUILD_TIMEOUT_MS = 25 * 60_000;

export interface ApiServer {
  /** Admin kubeconfig (static token in system:masters, CA of the serving certificate). */
  kubeconfigPath: string;
  /** https://127.0.0.1:<port>, unchanged by restart(). */
  server: string;
  /** SIGTERM (SIGKILL after a grace period), then deletes the etcd data. Safe to call twice. */
  stop(): Promise<void>;
  /** Stops the process and starts it again on the same etcd data, port and credentials. */
  restart(): Promise<void>;
  /** Path of the apiserver's log (klog + etcd errors), for failure messages. */
  logPath: string;
}

export interface StartOptions {
  readyTimeoutMs?: number;
  /** Grace before SIGKILL on stop. */
  stopTimeoutMs?: number;
}

/**
 * Builds the harness once per source hash into the cache dir (CI keeps
 * CONVEYOR_CACHE_DIR across runs), serialised by flock so concurrent test
 * files never run two kube-apiserver builds on the two shared cores.
 */
export async function buildApiServer(): Promise<string> {
  const hash = createHash('sha256');
  for (const file of SOURCES) hash.update(file).update(await readFile(path.join(HERE, file)));
  const cacheRoot = process.env.CONVEYOR_CACHE_DIR || path.join(ROOT, '.cache');
  const dir = path.join(cacheRoot, 'apiserver', hash.digest('hex').slice(0, 16));
  const binary = path.join(dir, BINARY);
  if (existsSync(binary)) return binary;

  // Build into a temp name and rename, so a killed build never leaves a half-written binary.
  const script = 'mkdir -p "$1" && if [ ! -x "$2" ]; then go build -trimpath -ldflags="-s -w" -o "$2.tmp" . && mv "$2.tmp" "$2"; fi';
  const lock = path.join(cacheRoot, 'apiserver', '.build.lock');
  await promisify(execFile)('mkdir', ['-p', path.dirname(lock)]);
  try {
    await promisify(execFile)('flock', [lock, 'sh', '-c', script, 'build', dir, binary], {
      cwd: HERE,
      timeout: BUILD_TIMEOUT_MS,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`building ${BINARY} failed: ${stderr.slice(-4000)}`, { cause: error });
  }
  return binary;
}

export async function startApiServer(options: StartOptions = {}): Promise<ApiServer> {
  const readyTimeoutMs = options.readyTimeoutMs ?? 90_000;
  const stopTimeoutMs = options.stopTimeoutMs ?? 20_000;
  const binary = await buildApiServer();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'conveyor-apiserver-'));
  const kubeconfigPath = path.join(dataDir, 'kubeconfig');
  const logPath = path.join(dataDir, 'apiserver.log');

  let running = await launch(binary, dataDir, kubeconfigPath, logPath, readyTimeoutMs);
  let stopped = false;
  const server = running.server;

  const api: ApiServer = {
    kubeconfigPath,
    server,
    logPath,
    async restart() {
      if (stopped) throw new Error('apiserver harness already stopped');
      await terminate(running.child, stopTimeoutMs);
      running = await launch(binary, dataDir, kubeconfigPath, logPath, readyTimeoutMs);
      if (running.server !== server) throw new Error(`restart moved the apiserver from ${server} to ${running.server}`);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await terminate(running.child, stopTimeoutMs);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return api;
}

interface Running {
  child: ChildProcess;
  server: string;
}

async function launch(binary: string, dataDir: string, kubeconfigPath: string, logPath: string, timeoutMs: number): Promise<Running> {
  const log = createWriteStream(logPath, { flags: 'a' });
  const child = spawn(binary, ['--data-dir', dataDir, '--kubeconfig', kubeconfigPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // A crashed test worker must not leave an apiserver holding its port.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.removeListener('exit', killOnExit));
  child.stderr!.pipe(log);

  const server = await new Promise<string>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => fail(new Error(`no READY within ${timeoutMs} ms`)), timeoutMs);
    const onExit = (code: number | null, signal: string | null) => fail(new Error(`exited (${code ?? signal}) before READY`));
    function fail(error: Error) {
      clearTimeout(timer);
      child.removeListener('exit', onExit);
      child.kill('SIGKILL');
      void logTail(logPath).then((tail) => reject(new Error(`kube-apiserver-test ${error.message}; log ${logPath}:\n${tail}`)));
    }
    child.once('exit', onExit);
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /^READY (\S+)/m.exec(stdout);
      if (match) {
        clearTimeout(timer);
        child.removeListener('exit', onExit);
        resolve(match[1]!);
      }
    });
  });

  // READY already means /readyz answered; checking again through the kubeconfig
  // proves the file a test loads carries working credentials.
  const status = await readyz(kubeconfigPath);
  if (status !== 200) {
    await terminate(child, 5000);
    throw new Error(`/readyz through ${kubeconfigPath} answered ${status}`);
  }
  return { child, server };
}

async function readyz(kubeconfigPath: string): Promise<number> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const url = new URL('/readyz', kc.getCurrentCluster()!.server);
  const opts: https.RequestOptions = { hostname: url.hostname, port: url.port, path: url.pathname, method: 'GET' };
  await kc.applyToHTTPSOptions(opts);
  return new Promise((resolve, reject) => {
    const req = https.request(opts, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('/readyz timed out')));
    req.end();
  });
}

async function terminate(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

async function logTail(logPath: string): Promise<string> {
  try {
    return (await readFile(logPath, 'utf8')).split('\n').slice(-40).join('\n');
  } catch {
    return '(no log)';
  }
}

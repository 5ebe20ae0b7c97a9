import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/**
 * Helpers of the cluster tests: the local cluster of scripts/cluster/ with Conveyor deployed.
 * scripts/cluster/test.sh passes where everything is (kubectl and helm on PATH, KUBECONFIG).
 */
const run = promisify(execFile);
const env = (name: string, fallback: string) => process.env[name] ?? fallback;

export const entryUrl = env('CLUSTER_ENTRY_URL', 'http://10.244.0.1:30080');
export const prometheusUrl = env('CLUSTER_PROMETHEUS_URL', 'http://127.0.0.1:29090');
export const databaseUrl = env('CLUSTER_DATABASE_URL', 'postgres://conveyor:conveyor@10.244.0.1:25432/conveyor');
export const bridgeIp = env('CLUSTER_BRIDGE_IP', '10.244.0.1');
export const otlpPort = Number(env('CLUSTER_OTLP_PORT', '24318'));
export const clusterRunDir = env('CLUSTER_RUN_DIR', '.run/cluster');
/** The SNS/SQS/S3 emulator the release uses (scripts/cluster/infra.sh), for reading queues directly. */
export const sqsUrl = env('CLUSTER_SQS_URL', 'http://10.244.0.1:24566');
export const namespace = 'conveyor';
export const release = 'conveyor';

/** Runs a command, failing with its stderr; returns stdout. */
export async function sh(file: string, args: string[], timeoutMs = 120_000): Promise<string> {
  try {
    const { stdout } = await run(file, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`${file} ${args.join(' ')} failed: ${e.stderr || e.message}`, { cause: error });
  }
}

/** Like sh, but resolves with the exit code and both outputs instead of failing. */
export async function shResult(file: string, args: string[], timeoutMs = 120_000) {
  try {
    const { stdout, stderr } = await run(file, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

export const kubectl = (...args: string[]) => sh('kubectl', args);

export async function kubectlJson<T>(...args: string[]): Promise<T> {
  return JSON.parse(await kubectl(...args, '-o', 'json')) as T;
}

export interface Pod {
  metadata: { name: string; labels: Record<string, string>; deletionTimestamp?: string };
  status: { phase: string; podIP?: string; containerStatuses?: Array<{ ready: boolean; restartCount: number }> };
}

export async function pods(selector: string, ns = namespace): Promise<Pod[]> {
  return (await kubectlJson<{ items: Pod[] }>('-n', ns, 'get', 'pods', '-l', selector)).items;
}

export const isRunningAndReady = (p: Pod) =>
  p.status.phase === 'Running' && !p.metadata.deletionTimestamp && (p.status.containerStatuses ?? []).every((c) => c.ready);

/** The Deployment's replica count as the API server has it (spec: what KEDA/HPA asked for). */
export async function deploymentReplicas(name: string, ns = namespace): Promise<number> {
  const d = await kubectlJson<{ spec: { replicas?: number } }>('-n', ns, 'get', 'deployment', name);
  return d.spec.replicas ?? 0;
}

/** Polls until the condition holds, or fails naming what it waited for (and what was last seen). */
export async function eventually<T>(probe: () => Promise<T>, accept: (value: T) => boolean, timeoutMs: number, what: string, pollMs = 1000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      last = await probe();
      if (accept(last)) return last;
    } catch (error) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${JSON.stringify(last)}${lastError ? `; last error: ${String(lastError)}` : ''}`);
}

/** An instant PromQL query against the host Prometheus that scrapes the cluster's pods. */
export async function promQuery(query: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
  const res = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(query)}`);
  const body = (await res.json()) as { status: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
  if (body.status !== 'success') throw new Error(`Prometheus query ${query} failed: ${JSON.stringify(body)}`);
  return body.data.result;
}

/** Logs in through the public entry as the dev user and returns a bearer token. */
export async function login(email = 'demo@example.com', password = 'demo-password'): Promise<string> {
  const res = await fetch(`${entryUrl}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  if (res.status !== 200) throw new Error(`login through ${entryUrl} answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { accessToken: string }).accessToken;
}

/** POSTs through the public entry, retrying 429 and 503 after the Retry-After the gateway sends. */
export async function post(token: string, path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(`${entryUrl}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if ((res.status === 429 || res.status === 503) && attempt < 20) {
      await res.arrayBuffer();
      await new Promise((r) => setTimeout(r, Number(res.headers.get('retry-after') ?? '1') * 1000));
      continue;
    }
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }
}

export async function get(token: string, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${entryUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

export async function del(token: string, path: string): Promise<number> {
  const res = await fetch(`${entryUrl}${path}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return res.status;
}

/** Runs `count` calls of `task` with at most `concurrency` in flight; returns their results in order. */
export async function pooled<T>(count: number, concurrency: number, task: (index: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array<T>(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const index = next++;
        results[index] = await task(index);
      }
    }),
  );
  return results;
}

/** Samples a value every `everyMs` until stopped: replica counts over time, read from the API server. */
export function sampler<T>(probe: () => Promise<T>, everyMs = 1000) {
  const samples: Array<{ at: number; value: T }> = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      try {
        samples.push({ at: Date.now(), value: await probe() });
      } catch {
        // a failed read is a missing sample, not a value
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    samples,
    stop: async () => {
      stopped = true;
      await loop;
      return samples;
    },
  };
}

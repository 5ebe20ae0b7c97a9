import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOB_TYPES } from '../../packages/jobs/src/catalog.js';
import { WORKER_POOLS } from '../../packages/jobs/src/topology.js';
import { infra } from '../support/infra.js';
import { isAlive, makeStart, ROOT, type MadeStack } from '../support/make-start.js';
import { waitUntil } from '../support/wait.js';
import { ConveyorClient } from './client.js';

/**
 * The path a user takes: `make start` itself (not a test launcher) on its own ports, database and
 * namespace, then one job of every registered type through the gateway to success, and Prometheus
 * scraping what it started. Before, report jobs stayed queued: only the default pool had a worker.
 */

/** How a user submits each type: POST /jobs with its example payload, unless it has its own route. */
const SUBMISSIONS: Record<string, { path: string; body: () => unknown }> = {
  'points.grant': {
    path: '/points/reservations',
    body: () => ({ userId: 'make-start-user', amount: 5, executeAt: new Date().toISOString() }),
  },
};

describe('make start', () => {
  let stack: MadeStack;
  let gateway: string;
  const traceIds: string[] = [];

  beforeAll(async () => {
    stack = await makeStart('e2e');
    gateway = stack.gatewayUrl;
  }, 300_000);

  afterAll(async () => {
    await stack?.stop();
  }, 120_000);

  it('runs a job of every registered type to success through the gateway', async () => {
    const login = await fetch(`${gateway}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'admin@example.com', password: 'admin-password' }),
    });
    expect(login.status).toBe(200);
    const client = new ConveyorClient(gateway, ((await login.json()) as { accessToken: string }).accessToken);

    const submitted = await Promise.all(
      [...JOB_TYPES.values()].map(async (type) => {
        const special = SUBMISSIONS[type.type];
        const { res, body } = special
          ? await client.submit(special.body(), special.path)
          : await client.submit({ type: type.type, payload: type.example });
        expect(res.status, `${type.type}: ${JSON.stringify(body)}`).toBe(202);
        return { type: type.type, jobId: body.jobId as string };
      }),
    );
    for (const { type, jobId } of submitted) {
      const finished = await client.waitForFinish(jobId, 60_000);
      expect(finished.status, `${type}: ${JSON.stringify(finished)}`).toBe('success');
      traceIds.push(finished.traceId as string);
    }
  }, 120_000);

  it('sends every hop of a job to the local trace UI, under the trace id the job shows', async () => {
    expect(traceIds[0]).toMatch(/^[0-9a-f]{32}$/);
    let services = new Set<string>();
    // The span processors export in batches every few seconds.
    await waitUntil(
      async () => {
        const res = await fetch(`${infra.zipkinUrl}/api/v2/trace/${traceIds[0]}`);
        if (res.status !== 200) return false;
        const spans = (await res.json()) as Array<{ localEndpoint?: { serviceName?: string } }>;
        services = new Set(spans.map((span) => span.localEndpoint?.serviceName ?? ''));
        return ['gateway', 'api', 'bridge', 'worker'].every((s) => services.has(s));
      },
      45_000,
      'the job\'s trace in Zipkin with spans of gateway, api, bridge and worker',
      1_000,
    );
    expect([...services]).toEqual(expect.arrayContaining(['gateway', 'api', 'bridge', 'worker']));
    expect((await fetch(`${infra.zipkinUrl}/zipkin/traces/${traceIds[0]}`)).status).toBe(200);
  }, 60_000);

  it('logs nothing but JSON lines from every process', () => {
    const dir = stack.logDir;
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.log'))) {
      const lines = readFileSync(path.join(dir, file), 'utf8').split('\n');
      // services.sh marks each start with a line of its own; what follows is the process's output.
      const output = lines.slice(lines.findLastIndex((l) => l.startsWith('===== ')) + 1).filter((l) => l.trim());
      expect(output.length, file).toBeGreaterThan(0);
      for (const line of output) expect(() => JSON.parse(line), `${file}: ${line}`).not.toThrow();
    }
  });

  it('has Prometheus scrape every process it started and load the alert rules', async () => {
    const targetsFile = path.join(ROOT, '.run/prometheus/targets', `${stack.instance}.json`);
    expect(existsSync(targetsFile)).toBe(true);
    const [group] = JSON.parse(readFileSync(targetsFile, 'utf8')) as Array<{ targets: string[] }>;
    // api, gateway, bridge, scheduler and one worker per pool.
    expect(group!.targets).toHaveLength(4 + WORKER_POOLS.length);

    await waitUntil(
      async () => {
        const res = await fetch(`${infra.prometheusUrl}/api/v1/targets?state=active`);
        const { data } = (await res.json()) as { data: { activeTargets: Array<{ labels: Record<string, string>; health: string }> } };
        const ours = data.activeTargets.filter((t) => t.labels.conveyor_instance === stack.instance);
        return ours.length === group!.targets.length && ours.every((t) => t.health === 'up');
      },
      60_000,
      'Prometheus to have every started process up',
      1_000,
    );
    const rules = await fetch(`${infra.prometheusUrl}/api/v1/rules`);
    const groups = ((await rules.json()) as { data: { groups: Array<{ name: string }> } }).data.groups.map((g) => g.name);
    expect(groups).toContain('conveyor.slo.recording');
  }, 90_000);

  // Last: it stops the stack. `stop` used `pkill -f` on the services' paths, which also ended any
  // other process of this checkout (tests' and the bench's services, a second make start).
  it('make stop ends exactly the processes it started, and no other process of this checkout', async () => {
    const pidFiles = readdirSync(stack.logDir).filter((f) => f.endsWith('.pid'));
    expect(pidFiles.length).toBe(4 + WORKER_POOLS.length);
    const started = pidFiles.map((f) => Number(readFileSync(path.join(stack.logDir, f), 'utf8').trim()));
    // A process whose command line is what the old pattern matched: the api of this checkout.
    const bystander = spawn('sleep', ['600'], { argv0: `node ${ROOT}/services/api/dist/main.js`, stdio: 'ignore' });
    try {
      expect(readFileSync(`/proc/${bystander.pid}/cmdline`, 'utf8')).toContain(`${ROOT}/services/api/dist/main.js`);
      await stack.make('stop');
      // stop returns once a process has let go of its command line; it may take a moment more to be gone.
      await waitUntil(() => started.filter(isAlive).length === 0, 10_000, 'every process make start started to be gone');
      expect(isAlive(bystander.pid!)).toBe(true);
    } finally {
      bystander.kill('SIGKILL');
    }
  }, 120_000);
});

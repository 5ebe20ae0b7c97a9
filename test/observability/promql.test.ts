import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConveyorClient } from '../e2e/client.js';
import { startPlatform, type Platform } from '../support/platform.js';
import { freePort, waitForHttp } from '../support/service-process.js';
import { ALERTS_FILE, allExpressions, withBoolComparisons } from './expressions.js';

const execFileAsync = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A cron that fires every minute, so the schedule panels have fires to show. */
const SCHEDULE = `apiVersion: conveyor.dev/v1alpha1
kind: JobSchedule
metadata:
  name: every-minute
  namespace: default
  labels:
    conveyor.dev/tenant: demo
spec:
  schedule: "* * * * *"
  jobType: noop
  payload: {}
`;

type PromResult = { status: string; error?: string; data?: { resultType: string; result: unknown[] } };

/**
 * The platform under load, scraped by a Prometheus of this test's own (Debian's binary, own port and
 * data dir, the shipped rules loaded): every dashboard and alert expression must answer with data.
 */
describe('dashboards and alerts against a real Prometheus scraping the platform', () => {
  let platform: Platform;
  let prometheus: ChildProcess | undefined;
  let promUrl: string;
  let workdir: string;
  let demo: ConveyorClient;
  let token: string;
  const jobTraceIds = new Set<string>();

  const query = async (expr: string): Promise<PromResult> => {
    const res = await fetch(`${promUrl}/api/v1/query?${new URLSearchParams({ query: expr })}`);
    return (await res.json()) as PromResult;
  };
  const waitForSeries = async (expr: string, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const r = await query(expr);
      if (r.status === 'success' && (r.data?.result.length ?? 0) > 0) return;
      await sleep(1000);
    }
    throw new Error(`no series for ${expr} within ${timeoutMs} ms`);
  };
  /** Submits, waiting out 429s as a polite client would. */
  const submit = async (client: ConveyorClient, body: unknown) => {
    for (;;) {
      const { res, body: reply } = await client.submit(body);
      if (res.status !== 429) {
        expect(res.status).toBe(202);
        return String(reply.jobId);
      }
      await sleep(Number(res.headers.get('retry-after') ?? 1) * 1000);
    }
  };

  /** Polls a job until it ends, waiting out 429s (the load here runs close to the rate limit). */
  const finish = async (jobId: string, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const { res, body } = await demo.job(jobId);
      if (res.status === 200) return body;
      expect([202, 429]).toContain(res.status);
      await sleep(res.status === 429 ? 1000 : 200);
    }
    throw new Error(`job ${jobId} did not finish in ${timeoutMs} ms`);
  };

  beforeAll(async () => {
    workdir = mkdtempSync(path.join(tmpdir(), 'conveyor-prom-'));
    mkdirSync(path.join(workdir, 'schedules'));
    writeFileSync(path.join(workdir, 'schedules/every-minute.yaml'), SCHEDULE);
    platform = await startPlatform({
      // No worker for the reports pool: its jobs wait in their queue (and are never re-sent for it).
      pools: ['default'],
      env: {
        LOG_LEVEL: 'debug',
        LAG_INTERVAL_MS: '1000',
        RECONCILE_INTERVAL_MS: '1000',
        QUEUED_REDRIVE_AFTER_SECONDS: '3',
        SCHEDULES_SOURCE: 'folder',
        SCHEDULES_DIR: path.join(workdir, 'schedules'),
      },
      gatewayEnv: { RATE_LIMIT_BURST: '40', RATE_LIMIT_SUSTAINED_PER_MINUTE: '100000' },
      workerEnv: { RETRY_BACKOFF_BASE_SECONDS: '1', RETRY_BACKOFF_MAX_SECONDS: '1', WORKER_CONCURRENCY: '8' },
    });
    const { gateway, api, bridge, scheduler, workers } = platform.services;
    const targets = [gateway, api, bridge, scheduler, ...workers].map((s) => `'127.0.0.1:${s.opsPort}'`).join(', ');
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    const config = path.join(workdir, 'prometheus.yml');
    writeFileSync(
      config,
      `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - ${ALERTS_FILE}\nscrape_configs:\n  - job_name: conveyor\n    static_configs:\n      - targets: [${targets}]\n`,
    );
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${path.join(workdir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--enable-feature=exemplar-storage',
      ],
      { stdio: 'ignore' },
    );
    await waitForHttp(`${promUrl}/-/ready`, 200, 30_000);

    token = await platform.login();
    demo = new ConveyorClient(platform.gatewayUrl, token);
    const admin = new ConveyorClient(platform.gatewayUrl, await platform.login('admin@example.com', 'admin-password'));
    // A tenant with a quota, so the per-tenant at-limit gauge (and its alert) has a series.
    expect((await admin.request('/tenants/observability/quota', { method: 'PUT', body: JSON.stringify({ maxQueued: 1000 }) })).status).toBe(200);

    // Load: quick jobs, delayed jobs, jobs that time out into retries then the DLQ, a cancelled
    // running job, report jobs nobody runs, a burst over the rate limit and some 404s.
    const quick = [];
    for (let i = 0; i < 40; i++) quick.push(await submit(demo, { type: i % 4 === 0 ? 'sleep' : 'noop', payload: i % 4 === 0 ? { ms: 200 } : {} }));
    const runAt = () => new Date(Date.now() + 5_000).toISOString();
    const delayed = await Promise.all(Array.from({ length: 5 }, () => submit(demo, { type: 'noop', payload: {}, runAt: runAt() })));
    const failing = await Promise.all(
      Array.from({ length: 2 }, () => submit(demo, { type: 'sleep', payload: { ms: 5000 }, timeoutSeconds: 1, maxAttempts: 2 })),
    );
    const cancelled = await submit(demo, { type: 'sleep', payload: { ms: 20_000 } });
    await Promise.all(Array.from({ length: 3 }, () => submit(demo, { type: 'report.generate', payload: { format: 'json' } })));
    // On a busy machine a burst may spread over seconds: repeat until the limiter has refused some.
    let refused = 0;
    for (let round = 0; round < 10 && refused === 0; round++) {
      const burst = await Promise.all(Array.from({ length: 100 }, () => admin.request('/jobs?limit=1')));
      refused = burst.filter((r) => r.status === 429).length;
    }
    expect(refused).toBeGreaterThan(0);
    for (let i = 0; i < 5; i++) await demo.request('/jobs/00000000-0000-4000-8000-000000000000');

    for (;;) {
      const { body } = await demo.job(cancelled);
      if (body.phase === 'processing') break;
      await sleep(300);
    }
    expect((await demo.request(`/jobs/${cancelled}`, { method: 'DELETE' })).status).toBeLessThan(300);
    for (const id of [...quick, ...delayed]) {
      const job = await finish(id);
      expect(job).toMatchObject({ status: 'success', traceId: expect.stringMatching(/^[0-9a-f]{32}$/) });
      jobTraceIds.add(String(job.traceId));
    }
    for (const id of failing) expect(await finish(id)).toMatchObject({ status: 'failed' });
    expect(await finish(cancelled)).toMatchObject({ status: 'cancelled' });

    // Series that only appear once something happened, then a few more scrapes and rule rounds.
    await waitForSeries('conveyor_scheduler_redrives_total', 60_000);
    await waitForSeries('conveyor_scheduler_schedule_fires_total', 75_000);
    await waitForSeries('conveyor_sqs_messages{role="dlq",state="visible"} > 0', 30_000);
    await sleep(5000);
  }, 420_000);

  afterAll(async () => {
    prometheus?.kill('SIGTERM');
    await platform?.stop();
    if (workdir) rmSync(workdir, { recursive: true, force: true });
  });

  it('scrapes all five services', async () => {
    for (const service of [...Object.values(platform.services).flat()]) {
      const exited = service.process.exitCode !== null || service.process.signalCode !== null;
      expect(exited, `${service.name} exited:\n${service.output().slice(-3000)}`).toBe(false);
    }
    const up = await query('sum by (service) (up * on (instance) group_left (service) max by (instance, service) (conveyor_process_start_time_seconds))');
    const services = (up.data?.result as Array<{ metric: { service: string } }>).map((r) => r.metric.service).sort();
    expect(services).toEqual(['api', 'bridge', 'gateway', 'scheduler', 'worker']);
  });

  it('serves metrics whose names pass promtool check metrics, from every service', async () => {
    const { gateway, api, bridge, scheduler, workers } = platform.services;
    for (const service of [gateway, api, bridge, scheduler, workers[0]!]) {
      const text = await (await fetch(`${service.opsUrl}/metrics`)).text();
      const child = execFileAsync('promtool', ['check', 'metrics']);
      child.child.stdin!.end(text);
      const { stdout, stderr } = await child;
      expect(`${stdout}${stderr}`.trim(), service.name).toBe('');
    }
  });

  it('answers every dashboard panel and alert rule expression with data', async () => {
    const expressions = allExpressions();
    expect(expressions.length).toBeGreaterThan(40);
    const failures: string[] = [];
    for (const { source, expr, isAlert } of expressions) {
      const asIs = await query(expr);
      if (asIs.status !== 'success') {
        failures.push(`${source}: error ${asIs.error}`);
        continue;
      }
      const probe = isAlert ? await query(withBoolComparisons(expr)) : asIs;
      if (probe.status !== 'success' || (probe.data?.result.length ?? 0) === 0) failures.push(`${source}: no data for ${isAlert ? withBoolComparisons(expr) : expr}`);
    }
    expect(failures).toEqual([]);
  });

  it('stores exemplars that lead from a latency bucket to the trace of a job that was measured', async () => {
    const end = Date.now() / 1000;
    const exemplarsOf = async (metric: string) => {
      const params = new URLSearchParams({ query: metric, start: String(end - 3600), end: String(end + 60) });
      const res = (await (await fetch(`${promUrl}/api/v1/query_exemplars?${params}`)).json()) as {
        status: string;
        data: Array<{ seriesLabels: Record<string, string>; exemplars: Array<{ labels: { trace_id?: string } }> }>;
      };
      expect(res.status, metric).toBe('success');
      return res.data.flatMap((series) => series.exemplars.map((e) => ({ service: series.seriesLabels.service, traceId: e.labels.trace_id })));
    };
    for (const metric of ['conveyor_jobs_end_to_end_duration_seconds_bucket', 'conveyor_jobs_enqueue_to_start_seconds_bucket', 'conveyor_jobs_run_duration_seconds_bucket']) {
      const exemplars = await exemplarsOf(metric);
      expect(exemplars.every((e) => /^[0-9a-f]{32}$/.test(e.traceId ?? '')), metric).toBe(true);
      expect(exemplars.some((e) => jobTraceIds.has(e.traceId!)), `${metric}: an exemplar names one of the submitted jobs' traces`).toBe(true);
    }
    const http = await exemplarsOf('conveyor_http_server_request_duration_seconds_bucket');
    expect(new Set(http.map((e) => e.service))).toEqual(new Set(['gateway', 'api']));
    expect(http.some((e) => jobTraceIds.has(e.traceId!)), 'a request exemplar names a submitted job\'s trace').toBe(true);
    const lateness = await exemplarsOf('conveyor_scheduler_dispatch_lateness_seconds_bucket');
    expect(lateness.some((e) => jobTraceIds.has(e.traceId!)), 'a dispatch exemplar names a delayed job\'s trace').toBe(true);
    const started = await exemplarsOf('conveyor_jobs_start_lateness_seconds_bucket');
    expect(started.some((e) => jobTraceIds.has(e.traceId!)), 'a start-lateness exemplar names a delayed job\'s trace').toBe(true);
  });

  it('never writes a login body or an Authorization header to any service output', () => {
    const { gateway, api, bridge, scheduler, workers } = platform.services;
    for (const service of [gateway, api, bridge, scheduler, ...workers]) {
      const output = service.output();
      expect(output.length, `${service.name} wrote logs`).toBeGreaterThan(0);
      for (const secret of ['demo-password', 'admin-password', token, `Bearer ${token}`, token.split('.')[2]!]) {
        expect(output.includes(secret), `${service.name} output contains a secret`).toBe(false);
      }
      expect(output).not.toMatch(/"authorization"\s*:/i);
    }
  });
});

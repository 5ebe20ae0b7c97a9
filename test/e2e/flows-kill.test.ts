import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { startPlatform, type Platform } from '../support/platform.js';
import { readUntil, waitFor } from '../support/wait.js';
import type { ConveyorClient } from './client.js';
import { connectTo } from './connect.js';

const ROOTS = 8;

/**
 * A flow survives its workers being killed with SIGKILL in the middle of its steps (issue 24): the
 * flow advances in the transaction that ends each step's job (migration 0022's trigger), so a kill
 * before that commit leaves the step to be run again and a kill after it has already enqueued what
 * follows. Short leases and a reconciler every second re-drive the killed runs in seconds.
 */
describe('a flow whose workers are killed -9 mid-step', () => {
  let platform: Platform;
  let demo: ConveyorClient;
  let db: pg.Pool;

  beforeAll(async () => {
    platform = await startPlatform({
      pools: ['default'],
      workerEnv: { WORKER_CONCURRENCY: '4', HEARTBEAT_INTERVAL_MS: '1000', LEASE_SECONDS: '5', RECEIVE_WAIT_SECONDS: '2', RETRY_BACKOFF_BASE_SECONDS: '1', RETRY_BACKOFF_MAX_SECONDS: '2' },
      env: { RECONCILE_INTERVAL_MS: '1000', RECONCILE_PROCESSING_LEASE_SECONDS: '5', QUEUED_REDRIVE_AFTER_SECONDS: '8', OUTBOX_POLL_INTERVAL_MS: '500' },
    });
    ({ demo, db } = await connectTo(platform));
  }, 240_000);
  afterAll(async () => {
    await db?.end();
    await platform?.stop();
  }, 60_000);

  it('ends in success with every step run to success and enqueued exactly once', async () => {
    // ROOTS parallel steps, a step after each, and one fan-in step after all of those.
    const steps = [
      ...Array.from({ length: ROOTS }, (_, i) => ({ name: `root-${i}`, type: 'sleep', payload: { ms: 600 }, maxAttempts: 10 })),
      ...Array.from({ length: ROOTS }, (_, i) => ({ name: `next-${i}`, type: 'sleep', payload: { ms: 400 }, maxAttempts: 10, dependsOn: [`root-${i}`] })),
      { name: 'last', type: 'noop', payload: {}, maxAttempts: 10, dependsOn: Array.from({ length: ROOTS }, (_, i) => `next-${i}`) },
    ];
    const res = await demo.request('/flows', { method: 'POST', body: JSON.stringify({ name: 'killed', steps }) });
    expect(res.status).toBe(202);
    const { flowId } = (await res.json()) as { flowId: string };

    // Three times: wait until a step of the flow is being run, then kill -9 every worker and start a new one.
    for (let kill = 0; kill < 3; kill++) {
      await waitFor(
        'a step of the flow to be processing',
        async () => (await db.query("SELECT 1 FROM jobs WHERE flow_id = $1 AND status = 'processing'", [flowId])).rowCount! > 0,
        60_000,
        50,
      );
      const workers = platform.services.workers.splice(0);
      await Promise.all(workers.map((w) => w.stop('SIGKILL')));
      await platform.startWorker('default');
    }

    const done = await readUntil(
      `flow ${flowId}`,
      async () => (await (await demo.request(`/flows/${flowId}`)).json()) as { status: string; steps: Array<{ name: string; status: string; jobId: string; attempts: number }> },
      (f) => f.status !== 'running',
      120_000,
    );
    expect(done.status).toBe('success');
    expect(done.steps.every((s) => s.status === 'success')).toBe(true);

    // One job per step, each created once: nothing was enqueued twice, nothing lost.
    const { rows } = await db.query<{ jobs: number; created: number; distinct_steps: number; rerun: number }>(
      `SELECT count(*)::int AS jobs,
              (SELECT count(*) FROM job_events e JOIN jobs j ON j.id = e.job_id WHERE j.flow_id = $1 AND e.type = 'created')::int AS created,
              (SELECT count(DISTINCT job_id) FROM flow_steps WHERE flow_id = $1)::int AS distinct_steps,
              count(*) FILTER (WHERE attempts > 1)::int AS rerun
         FROM jobs WHERE flow_id = $1`,
      [flowId],
    );
    expect(rows[0]).toMatchObject({ jobs: steps.length, created: steps.length, distinct_steps: steps.length });
    // The kills hit runs in progress: those ran again, as new attempts of the same jobs.
    expect(rows[0]!.rerun).toBeGreaterThan(0);
    // The fan-in step started only after all of its dependencies had finished.
    const order = await db.query<{ ok: boolean }>(
      `SELECT (SELECT started_at FROM jobs WHERE id = (SELECT job_id FROM flow_steps WHERE flow_id = $1 AND name = 'last'))
              >= (SELECT max(j.finished_at) FROM flow_steps s JOIN jobs j ON j.id = s.job_id WHERE s.flow_id = $1 AND s.name LIKE 'next-%') AS ok`,
      [flowId],
    );
    expect(order.rows[0]!.ok).toBe(true);
  }, 240_000);
});

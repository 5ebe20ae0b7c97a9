import { beforeAll, describe, expect, it } from 'vitest';
import { eventually, get, isRunningAndReady, kubectl, login, namespace, pods, pooled, post } from './cluster.js';

// A worker pod deleted while it runs jobs (as a node drain or a KEDA scale-in does) loses none:
// it drains what it holds on SIGTERM, and anything it could not finish is delivered again.
const WORKERS = 'app.kubernetes.io/instance=conveyor,app.kubernetes.io/component=worker-default';
const JOBS = 60;

describe('a worker pod deleted mid-run', () => {
  let token: string;
  beforeAll(async () => {
    token = await login();
  });

  it(`loses none of ${JOBS} sleep jobs that were running on it`, async () => {
    const ids = await pooled(JOBS, 8, async () => {
      const reply = await post(token, '/jobs', { type: 'sleep', payload: { ms: 4000 } });
      expect(reply.status).toBe(202);
      return String(reply.body.jobId);
    });
    // Wait for a worker pod to be running jobs: some of ours in phase `processing`.
    const victim = await eventually(
      async () => {
        const ready = (await pods(WORKERS)).filter(isRunningAndReady);
        const phases = await Promise.all(ids.slice(0, 20).map(async (id) => (await get(token, `/jobs/${id}`)).body.phase));
        return { pod: ready[0]?.metadata.name, processing: phases.filter((p) => p === 'processing').length };
      },
      (s) => Boolean(s.pod) && s.processing > 0,
      180_000,
      'a ready worker pod with jobs in phase processing',
    );
    await kubectl('-n', namespace, 'delete', 'pod', victim.pod!, '--wait=false');
    console.log(`deleted ${victim.pod} while ${victim.processing} of the first 20 jobs were processing`);

    const statuses = await eventually(
      () => Promise.all(ids.map(async (id) => (await get(token, `/jobs/${id}`)).body.status as string)),
      (all) => all.every((s) => s === 'success' || s === 'failed' || s === 'cancelled'),
      300_000,
      `all ${JOBS} jobs to finish`,
      3000,
    );
    expect(statuses.filter((s) => s !== 'success')).toEqual([]);
  });
});

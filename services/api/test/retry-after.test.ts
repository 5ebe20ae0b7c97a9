import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { announceJobType, registerJobType, JOB_DEFAULTS } from '@conveyor/jobs';
import { gatewayAs, startApi, type ApiUnderTest } from './support/api-under-test.js';

/** Retry-After follows the live backlog of the job's worker pool and its recent completion rate. */
describe('Retry-After from the live backlog', () => {
  let env: ApiUnderTest;
  let client: ReturnType<typeof gatewayAs>;

  beforeAll(async () => {
    env = await startApi();
    client = gatewayAs(env.api.url, { tenant: 'load', subject: 'u' });
  });
  afterAll(async () => {
    await env?.stop();
  });

  /** Jobs of the reports pool, written as the pipeline would leave them. */
  async function seed(count: number, status: string, finishedSecondsAgo?: number, runSeconds = 0): Promise<void> {
    await env.pool.query(
      `INSERT INTO jobs (id, tenant, owner, type, payload, status, created_at, started_at, finished_at)
       SELECT gen_random_uuid(), 'seed', 'u', 'report.generate', '{}', $2, now() - interval '5 minutes',
              now() - make_interval(secs => $3::float8 + $4::float8), now() - make_interval(secs => $3::float8)
         FROM generate_series(1, $1)`,
      [count, status, finishedSecondsAgo ?? 0, runSeconds],
    );
  }

  it('is short on an idle pool, grows with the backlog ahead, and shrinks as the completion rate rises', async () => {
    const first = await client('/generate-report', { method: 'POST', body: {} });
    const { jobId } = (await first.json()) as { jobId: string };
    const idle = await client(`/jobs/${jobId}`);
    expect(idle.status).toBe(202);
    expect(Number(idle.headers.get('retry-after'))).toBe(1);

    // 30 jobs ahead of it, 60 finished during the last minute: one per second, so about 30 s.
    await seed(30, 'queued');
    await seed(60, 'success', 10);
    await new Promise((r) => setTimeout(r, 1600)); // past the stats cache
    const busy = Number((await client(`/jobs/${jobId}`)).headers.get('retry-after'));
    expect(busy).toBeGreaterThanOrEqual(30);
    expect(busy).toBeLessThanOrEqual(32);

    // Three times the throughput: about 10 s.
    await seed(120, 'success', 20);
    await new Promise((r) => setTimeout(r, 1600));
    const faster = Number((await client(`/jobs/${jobId}`)).headers.get('retry-after'));
    expect(faster).toBeGreaterThanOrEqual(10);
    expect(faster).toBeLessThanOrEqual(12);

    // Jobs created after it are not ahead of it, but they are ahead of a new submission.
    const next = await client('/generate-report', { method: 'POST', body: {} });
    await new Promise((r) => setTimeout(r, 1600));
    expect(Number((await client(`/jobs/${jobId}`)).headers.get('retry-after'))).toBe(faster);
    const later = await client('/generate-report', { method: 'POST', body: {} });
    expect(Number(later.headers.get('retry-after'))).toBeGreaterThan(faster);
    expect(next.status).toBe(202);

    // A backlog far beyond what a minute drains is capped at 60 s. Accepting never waits for the
    // stats: the first submission after the cache went stale refreshes them for the next ones.
    await seed(5000, 'queued');
    await new Promise((r) => setTimeout(r, 1600));
    await client('/generate-report', { method: 'POST', body: {} });
    await new Promise((r) => setTimeout(r, 300));
    expect(Number((await client('/generate-report', { method: 'POST', body: {} })).headers.get('retry-after'))).toBe(60);
  });

  it("follows a team pool's backlog for a type registered on it, from the 202 on", async () => {
    // A team's type on its own pool (as an operator's JobType would register it): its backlog is that pool's alone.
    const spec = { schema: { type: 'object' }, pool: 'team-ra', ...JOB_DEFAULTS, maxPayloadBytes: 1024, resultRetentionSeconds: null };
    await registerJobType(env.pool, 'ra.work', spec);
    await announceJobType(env.pool, 'ra.work');
    const submit = () => client('/jobs', { method: 'POST', body: { type: 'ra.work', payload: {} } });
    let first = await submit();
    for (let i = 0; first.status === 422 && i < 50; i++) {
      await new Promise((r) => setTimeout(r, 100)); // until this replica has heard of the type
      first = await submit();
    }
    expect(first.status).toBe(202);
    await env.pool.query(
      `INSERT INTO jobs (id, tenant, owner, type, payload, status, created_at, started_at, finished_at)
       SELECT gen_random_uuid(), 'seed', 'u', 'ra.work', '{}', s.status, now() - interval '5 minutes', now() - interval '11 seconds', now() - interval '10 seconds'
         FROM (SELECT CASE WHEN g <= 30 THEN 'queued' ELSE 'success' END AS status FROM generate_series(1, 90) g) s`,
    );
    await new Promise((r) => setTimeout(r, 1600)); // past the stats cache
    await submit(); // refreshes the team pool's stats for the next submit
    await new Promise((r) => setTimeout(r, 300));
    // 31 ahead at one a second (60 in the last minute): about 31 s, where a type without a pool would get 1.
    const busy = Number((await submit()).headers.get('retry-after'));
    expect(busy).toBeGreaterThanOrEqual(30);
    expect(busy).toBeLessThanOrEqual(34);
  });

  it('estimates a processing job from the mean run time and its progress', async () => {
    const { jobId } = (await (await client('/jobs', { method: 'POST', body: { type: 'sleep', payload: { ms: 1 } } })).json()) as { jobId: string };
    // The default pool's recent jobs took 40 s each.
    await env.pool.query(
      `INSERT INTO jobs (id, tenant, owner, type, payload, status, started_at, finished_at)
       SELECT gen_random_uuid(), 'seed', 'u', 'sleep', '{}', 'success', now() - interval '45 seconds', now() - interval '5 seconds'
         FROM generate_series(1, 4)`,
    );
    await env.pool.query("UPDATE jobs SET status = 'processing', started_at = now(), progress = 0.75 WHERE id = $1", [jobId]);
    await new Promise((r) => setTimeout(r, 1600));
    expect(Number((await client(`/jobs/${jobId}`)).headers.get('retry-after'))).toBe(10);
  });
});

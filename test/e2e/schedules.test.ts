import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPlatform, type Platform } from '../support/platform.js';
import { readUntil } from '../support/wait.js';
import { ConveyorClient } from './client.js';

interface Run { jobId: string; status: string; trigger: 'schedule' | 'manual'; fireTime: string | null }
interface Schedule { name: string; tenant: string; suspend: boolean; nextFireTimes: string[]; lastRuns: Run[]; scheduler: { reason: string } | null }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Schedules over HTTP (issue 22) through the real gateway, api, scheduler (SCHEDULES_SOURCE=postgres,
 * as `make start` runs it), bridge and worker on real Postgres, Kafka and the SQS emulator: a
 * schedule made over HTTP fires every three seconds and its jobs run; paused, it fires no more;
 * triggered, it runs once at once; deleted, it is gone and fires no more.
 */
describe('schedules through the gateway', () => {
  let platform: Platform;
  let demo: ConveyorClient;
  let admin: ConveyorClient;

  beforeAll(async () => {
    platform = await startPlatform({ pools: ['default'], env: { SCHEDULES_SOURCE: 'postgres' } });
    demo = new ConveyorClient(platform.gatewayUrl, await platform.login());
    admin = new ConveyorClient(platform.gatewayUrl, await platform.login('admin@example.com', 'admin-password'));
  }, 240_000);
  afterAll(() => platform?.stop());

  const read = async (client = demo) => {
    const res = await client.request('/schedules/heartbeat');
    expect(res.status).toBe(200);
    return (await res.json()) as Schedule;
  };
  const fires = (s: Schedule) => s.lastRuns.filter((r) => r.trigger === 'schedule');
  /** Every job the schedule made (the only noop jobs here): lastRuns shows only the newest ten. */
  const made = async () => {
    const res = await demo.request('/jobs?type=noop&limit=100');
    expect(res.status).toBe(200);
    return ((await res.json()) as { items: unknown[] }).items.length;
  };

  it('creates a schedule that fires every few seconds, pauses it, triggers it now and deletes it', async () => {
    const created = await demo.request('/schedules', { method: 'POST', body: JSON.stringify({ name: 'heartbeat', schedule: '*/3 * * * * *', jobType: 'noop', payload: {} }) });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe('/schedules/heartbeat');

    // Fired by the scheduler's leader without a restart, and run by the worker.
    const running = await readUntil('two fires that ran', () => read(), (s) => fires(s).filter((r) => r.status === 'success').length >= 2, 45_000);
    const times = fires(running).map((r) => Date.parse(r.fireTime!));
    for (let i = 1; i < times.length; i++) expect(times[i - 1]! - times[i]!).toBe(3_000);
    expect(running.scheduler?.reason).toBe('Scheduled');
    const listed = (await (await admin.request('/schedules')).json()) as { items: Schedule[] };
    expect(listed.items.map((s) => `${s.tenant}/${s.name}`)).toContain(`${running.tenant}/heartbeat`);

    const paused = await demo.request('/schedules/heartbeat/pause', { method: 'POST' });
    expect(paused.status).toBe(200);
    expect(((await paused.json()) as Schedule).nextFireTimes).toEqual([]);
    await readUntil('the scheduler reports it suspended', () => read(), (s) => s.scheduler?.reason === 'Suspended', 15_000);
    const atPause = await made();
    await sleep(7_000);
    expect(await made(), 'no fires while paused').toBe(atPause);

    const trigger = await demo.request('/schedules/heartbeat/trigger', { method: 'POST' });
    expect(trigger.status).toBe(202);
    const { jobId } = (await trigger.json()) as { jobId: string };
    expect((await demo.waitForFinish(jobId, 30_000)).status).toBe('success');
    const afterTrigger = await read();
    expect(afterTrigger.lastRuns[0]).toMatchObject({ jobId, trigger: 'manual', status: 'success', fireTime: null });
    expect(await made(), 'the trigger made one job').toBe(atPause + 1);

    expect((await demo.request('/schedules/heartbeat/resume', { method: 'POST' })).status).toBe(200);
    await readUntil('fires again after resume', made, (n) => n > atPause + 1, 15_000);

    expect((await demo.request('/schedules/heartbeat', { method: 'DELETE' })).status).toBe(204);
    expect((await demo.request('/schedules/heartbeat')).status).toBe(404);
    // The jobs it made stay; no new ones come.
    await sleep(1_000);
    const atDelete = await made();
    await sleep(6_000);
    expect(await made(), 'no fires after delete').toBe(atDelete);
    expect(atDelete).toBeGreaterThanOrEqual(4);
  });
});

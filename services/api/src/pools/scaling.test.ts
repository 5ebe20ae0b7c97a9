import { describe, expect, it } from 'vitest';
import { desiredWorkers, type TypeLoad } from './scaling.js';

const load = (type: string, waiting: number, runSeconds: number | null, processing = 0): TypeLoad => ({ type, waiting, processing, runSeconds });
const base = { upcoming: [], concurrency: 8, targetDrainSeconds: 60, paused: false };

describe("a pool's desired workers", () => {
  it('weighs the waiting jobs by how long their type runs: a slow type needs more workers at the same depth', () => {
    const slow = desiredWorkers({ ...base, loads: [load('report', 200, 30)] });
    const fast = desiredWorkers({ ...base, loads: [load('noop', 200, 0.05)] });
    // 200 x 30 s = 6,000 s of work, over 60 s = 100 slots, 8 per worker: 13 workers.
    expect(slow).toEqual({ desiredWorkers: 13, waitingWorkSeconds: 6000, processing: 0 });
    expect(fast.desiredWorkers).toBe(1);
  });

  it('keeps a slot for every running job and asks for none when there is nothing to do', () => {
    expect(desiredWorkers({ ...base, loads: [load('a', 0, 2, 17)] }).desiredWorkers).toBe(3);
    expect(desiredWorkers({ ...base, loads: [load('a', 0, null)] }).desiredWorkers).toBe(0);
  });

  it("guesses a type without history from the pool's other types, else one second", () => {
    expect(desiredWorkers({ ...base, loads: [load('known', 0, 12), load('new', 48, null)] }).waitingWorkSeconds).toBe(576);
    expect(desiredWorkers({ ...base, loads: [load('new', 48, null)] }).waitingWorkSeconds).toBe(48);
  });

  it('counts a cron fire due within the lead time as work waiting, so a pool at zero has a worker up for it', () => {
    const fire = { schedule: 'nightly', tenant: 't', jobType: 'report', at: new Date() };
    const ahead = desiredWorkers({ ...base, loads: [load('report', 0, 30)], upcoming: [fire] });
    expect(ahead).toMatchObject({ desiredWorkers: 1, waitingWorkSeconds: 30 });
    const many = desiredWorkers({ ...base, loads: [load('report', 0, 600)], upcoming: Array.from({ length: 10 }, () => fire) });
    // 10 fires x 600 s over 60 s = 100 slots: 13 workers before the first of them fires.
    expect(many.desiredWorkers).toBe(13);
  });

  it('starts nothing for a paused pool: only its running jobs keep workers', () => {
    const fire = { schedule: 'nightly', tenant: 't', jobType: 'report', at: new Date() };
    expect(desiredWorkers({ ...base, paused: true, loads: [load('report', 500, 30, 9)], upcoming: [fire] })).toEqual({ desiredWorkers: 2, waitingWorkSeconds: 0, processing: 9 });
  });
});

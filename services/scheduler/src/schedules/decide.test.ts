import { describe, expect, it } from 'vitest';
import { decide, MAX_MISSED, missedFires, nextStatus, sameStatus, type DecideInput } from './decide.js';
import { fireIdempotencyKey, scheduleTenant, scheduleUid, validateSpec } from './job-schedule.js';

function valid(spec: Record<string, unknown>) {
  const v = validateSpec({ jobType: 'noop', payload: {}, ...spec });
  if (!v.ok) throw new Error(v.message);
  return v;
}

function input(spec: Record<string, unknown>, rest: Omit<DecideInput, 'spec' | 'cron'>): DecideInput {
  const v = valid(spec);
  return { spec: v.spec, cron: v.cron, ...rest };
}

const iso = (d: Date | null | undefined) => d?.toISOString();

describe('validateSpec', () => {
  it('accepts a valid spec and applies defaults', () => {
    const v = valid({ schedule: '*/5 * * * *' });
    expect(v.spec).toMatchObject({ suspend: false, concurrencyPolicy: 'Allow' });
  });

  it.each([
    [{ schedule: '61 * * * *' }, /minute/],
    [{ schedule: 'every day' }, /schedule/],
    [{ schedule: '* * * * *', timeZone: 'Mars/Olympus_Mons' }, /time zone/i],
    [{ schedule: '* * * * *', jobType: 'no.such.type' }, /unknown job type/],
    [{ schedule: '* * * * *', jobType: 'sleep', payload: { ms: 'long' } }, /spec.payload/],
    [{ schedule: '* * * * *', concurrencyPolicy: 'Sometimes' }, /concurrencyPolicy/],
    [{ schedule: '* * * * *', startingDeadlineSeconds: -1 }, /startingDeadlineSeconds/],
  ])('rejects %j with a message instead of throwing', (spec, message) => {
    const v = validateSpec({ jobType: 'noop', payload: {}, ...spec });
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.message).toMatch(message);
  });

  it('rejects a missing spec', () => {
    expect(validateSpec(undefined).ok).toBe(false);
  });
});

describe('identity of a fire', () => {
  it('derives the idempotency key from uid and fire time only', () => {
    const t = new Date('2025-01-01T10:00:00Z');
    expect(fireIdempotencyKey('u-1', t)).toBe('schedule:u-1:2025-01-01T10:00:00.000Z');
    expect(fireIdempotencyKey('u-1', new Date(t))).toBe(fireIdempotencyKey('u-1', t));
    expect(fireIdempotencyKey('u-2', t)).not.toBe(fireIdempotencyKey('u-1', t));
  });

  it('takes the tenant from the label, then the annotation, then the default', () => {
    const meta = { name: 'a', namespace: 'ns' };
    expect(scheduleTenant({ metadata: meta }, 'system')).toBe('system');
    expect(scheduleTenant({ metadata: { ...meta, annotations: { 'conveyor.dev/tenant': 'b' } } }, 'system')).toBe('b');
    expect(scheduleTenant({ metadata: { ...meta, labels: { 'conveyor.dev/tenant': 'a' }, annotations: { 'conveyor.dev/tenant': 'b' } } }, 'system')).toBe('a');
    expect(scheduleUid({ metadata: meta })).toBe('folder:ns/a');
    expect(scheduleUid({ metadata: { ...meta, uid: 'abc' } })).toBe('abc');
  });
});

describe('decide', () => {
  const created = new Date('2025-01-01T00:00:00Z');

  it('waits before the first fire time and names it as next', () => {
    const d = decide(input({ schedule: '0 * * * *' }, { now: new Date('2025-01-01T00:30:00Z'), createdAt: created }));
    expect(d.action).toBe('wait');
    expect(iso(d.next)).toBe('2025-01-01T01:00:00.000Z');
  });

  it('fires a fire time once it is due, and not again after it is recorded', () => {
    const now = new Date('2025-01-01T01:00:00.005Z');
    const first = decide(input({ schedule: '0 * * * *' }, { now, createdAt: created }));
    expect(first).toMatchObject({ action: 'fire' });
    if (first.action !== 'fire') return;
    expect(iso(first.fireTime)).toBe('2025-01-01T01:00:00.000Z');
    const again = decide(input({ schedule: '0 * * * *' }, { now, createdAt: created, lastScheduleTime: first.fireTime }));
    expect(again.action).toBe('wait');
  });

  it('never fires early', () => {
    const d = decide(input({ schedule: '0 * * * *' }, { now: new Date('2025-01-01T00:59:59.999Z'), createdAt: created }));
    expect(d.action).toBe('wait');
  });

  it('after downtime fires only the most recent missed fire time and says how many were skipped', () => {
    const d = decide(
      input({ schedule: '0 * * * *' }, { now: new Date('2025-01-01T05:10:00Z'), createdAt: created, lastScheduleTime: new Date('2025-01-01T01:00:00Z') }),
    );
    expect(d.action).toBe('fire');
    if (d.action !== 'fire') return;
    expect(iso(d.fireTime)).toBe('2025-01-01T05:00:00.000Z');
    expect(d.events).toContainEqual(expect.objectContaining({ reason: 'MissedSchedule', message: expect.stringContaining('3 earlier') }));
  });

  it('skips a missed fire time older than startingDeadlineSeconds', () => {
    const d = decide(
      input(
        { schedule: '0 * * * *', startingDeadlineSeconds: 300 },
        { now: new Date('2025-01-01T05:10:00Z'), createdAt: created, lastScheduleTime: new Date('2025-01-01T01:00:00Z') },
      ),
    );
    expect(d.action).toBe('wait');
    expect(iso(d.next)).toBe('2025-01-01T06:00:00.000Z');
    expect(d.events).toContainEqual(expect.objectContaining({ type: 'Warning', reason: 'MissedSchedule' }));
  });

  it('still fires a missed fire time within startingDeadlineSeconds', () => {
    const d = decide(
      input(
        { schedule: '0 * * * *', startingDeadlineSeconds: 900 },
        { now: new Date('2025-01-01T05:10:00Z'), createdAt: created, lastScheduleTime: new Date('2025-01-01T01:00:00Z') },
      ),
    );
    expect(d.action).toBe('fire');
    if (d.action === 'fire') expect(iso(d.fireTime)).toBe('2025-01-01T05:00:00.000Z');
  });

  it('records too many missed fire times and still fires the latest, with bounded work', () => {
    const now = new Date('2025-01-02T00:00:30.500Z');
    const d = decide(input({ schedule: '* * * * * *' }, { now, createdAt: created }));
    expect(d.action).toBe('fire');
    if (d.action !== 'fire') return;
    expect(iso(d.fireTime)).toBe('2025-01-02T00:00:30.000Z');
    expect(d.events).toContainEqual(expect.objectContaining({ reason: 'TooManyMissedTimes' }));
    expect(missedFires(valid({ schedule: '* * * * * *' }).cron, created, now).count).toBe(MAX_MISSED + 1);
  });

  it('does nothing while suspended, and fires the latest missed one when resumed', () => {
    const base = { now: new Date('2025-01-01T03:30:00Z'), createdAt: created, lastScheduleTime: new Date('2025-01-01T01:00:00Z') };
    const suspended = decide(input({ schedule: '0 * * * *', suspend: true }, base));
    expect(suspended).toMatchObject({ action: 'skip', reason: 'Suspended', next: null });
    const resumed = decide(input({ schedule: '0 * * * *', suspend: false }, base));
    expect(resumed.action).toBe('fire');
    if (resumed.action === 'fire') expect(iso(resumed.fireTime)).toBe('2025-01-01T03:00:00.000Z');
  });

  describe('concurrencyPolicy', () => {
    const base = { now: new Date('2025-01-01T02:00:01Z'), createdAt: created, lastScheduleTime: new Date('2025-01-01T01:00:00Z') };
    const running = { id: 'job-1', finished: false };
    const done = { id: 'job-1', finished: true };

    it('Forbid skips while the previous job runs and fires once it finished', () => {
      const blocked = decide(input({ schedule: '0 * * * *', concurrencyPolicy: 'Forbid' }, { ...base, previousJob: running }));
      expect(blocked).toMatchObject({ action: 'skip', reason: 'JobAlreadyActive' });
      expect(blocked.events).toContainEqual(expect.objectContaining({ reason: 'JobAlreadyActive' }));
      const free = decide(input({ schedule: '0 * * * *', concurrencyPolicy: 'Forbid' }, { ...base, previousJob: done }));
      expect(free.action).toBe('fire');
    });

    it('Replace cancels the running previous job and fires', () => {
      const d = decide(input({ schedule: '0 * * * *', concurrencyPolicy: 'Replace' }, { ...base, previousJob: running }));
      expect(d).toMatchObject({ action: 'fire', cancelJobId: 'job-1' });
      const after = decide(input({ schedule: '0 * * * *', concurrencyPolicy: 'Replace' }, { ...base, previousJob: done }));
      expect(after).toMatchObject({ action: 'fire' });
      expect(after).not.toHaveProperty('cancelJobId');
    });

    it('Allow fires alongside a running job', () => {
      const d = decide(input({ schedule: '0 * * * *', concurrencyPolicy: 'Allow' }, { ...base, previousJob: running }));
      expect(d.action).toBe('fire');
      expect(d).not.toHaveProperty('cancelJobId');
    });
  });

  describe('daylight saving time in Europe/Berlin', () => {
    const tz = 'Europe/Berlin';

    function firesBetween(schedule: string, from: string, to: string): string[] {
      const { cron } = valid({ schedule, timeZone: tz });
      const out: string[] = [];
      let last = new Date(from);
      for (;;) {
        const d = decide({ spec: valid({ schedule, timeZone: tz }).spec, cron, now: new Date(last.getTime() + 3_600_000 * 30), createdAt: last, lastScheduleTime: last });
        const next = cron.nextRun(last);
        if (!next || next.getTime() > new Date(to).getTime()) break;
        expect(d.action).toBe('fire');
        out.push(next.toISOString());
        last = next;
      }
      return out;
    }

    it('spring forward: a daily 02:30 (a wall time that does not exist that day) fires once, at 03:30 CEST', () => {
      expect(firesBetween('30 2 * * *', '2025-03-28T12:00:00Z', '2025-03-31T12:00:00Z')).toEqual([
        '2025-03-29T01:30:00.000Z', // 02:30 CET
        '2025-03-30T01:30:00.000Z', // 03:30 CEST: the skipped 02:30 shifted, not lost
        '2025-03-31T00:30:00.000Z', // 02:30 CEST
      ]);
    });

    it('fall back: a daily 02:30 (a wall time that happens twice) fires once that day', () => {
      const fires = firesBetween('30 2 * * *', '2025-10-25T12:00:00Z', '2025-10-27T12:00:00Z');
      expect(fires).toHaveLength(2);
      expect(fires[0]).toMatch(/^2025-10-26T0[01]:30/);
      expect(fires[1]).toBe('2025-10-27T01:30:00.000Z'); // 02:30 CET
    });

    it('an hourly schedule never fires twice in the repeated hour, even when decided inside it', () => {
      const fires = firesBetween('0 * * * *', '2025-10-25T22:30:00Z', '2025-10-26T03:30:00Z');
      expect(new Set(fires).size).toBe(fires.length);
      const wall = fires.map((f) => new Intl.DateTimeFormat('en-GB', { timeZone: tz, hour: '2-digit', hourCycle: 'h23' }).format(new Date(f)));
      expect(wall.filter((h) => h === '02')).toHaveLength(1);
      // 00:30Z is 02:30 CEST: 02:00 (wall) is behind us, so the repeated 02:00 CET must not fire.
      const d = decide(input({ schedule: '0 * * * *', timeZone: tz }, { now: new Date('2025-10-26T01:00:00.010Z'), createdAt: new Date('2025-10-26T00:30:00Z') }));
      expect(d.action).toBe('wait');
      expect(iso(d.next)).toBe('2025-10-26T02:00:00.000Z'); // 03:00 CET
    });
  });
});

describe('nextStatus', () => {
  const now = new Date('2025-01-01T01:00:01Z');

  it('records a fire: last time, job, next time, Ready and observedGeneration', () => {
    const decision = decide(input({ schedule: '0 * * * *' }, { now, createdAt: new Date('2025-01-01T00:00:00Z') }));
    const status = nextStatus({ previous: undefined, generation: 3, now, decision, firedJobId: 'job-9' });
    expect(status).toMatchObject({
      lastScheduleTime: '2025-01-01T01:00:00.000Z',
      nextScheduleTime: '2025-01-01T02:00:00.000Z',
      lastJobId: 'job-9',
      observedGeneration: 3,
    });
    expect(status.conditions).toContainEqual(expect.objectContaining({ type: 'Ready', status: 'True', observedGeneration: 3 }));
    expect(status.conditions).toContainEqual(expect.objectContaining({ type: 'InvalidSpec', status: 'False' }));
  });

  it('marks an invalid spec not Ready and keeps the previous fire record', () => {
    const previous = { lastScheduleTime: '2025-01-01T00:00:00.000Z', lastJobId: 'job-1', nextScheduleTime: 'x' };
    const status = nextStatus({ previous, generation: 2, now, invalid: 'spec.schedule: bad' });
    expect(status).toMatchObject({ lastScheduleTime: previous.lastScheduleTime, lastJobId: 'job-1', observedGeneration: 2 });
    expect(status.nextScheduleTime).toBeUndefined();
    expect(status.conditions).toContainEqual(expect.objectContaining({ type: 'Ready', status: 'False', reason: 'InvalidSpec', message: 'spec.schedule: bad' }));
    expect(status.conditions).toContainEqual(expect.objectContaining({ type: 'InvalidSpec', status: 'True' }));
  });

  it('does not record a fire that created no job, and keeps transition times while unchanged', () => {
    const decision = decide(input({ schedule: '0 * * * *' }, { now, createdAt: new Date('2025-01-01T00:00:00Z') }));
    const first = nextStatus({ previous: undefined, generation: 1, now, decision });
    expect(first.lastScheduleTime).toBeUndefined();
    const later = nextStatus({ previous: first, generation: 1, now: new Date(now.getTime() + 60_000), decision });
    expect(sameStatus(first, later)).toBe(true);
    const suspended = nextStatus({ previous: first, generation: 2, now, decision: { action: 'skip', reason: 'Suspended', next: null, events: [] } });
    expect(sameStatus(first, suspended)).toBe(false);
    expect(suspended.conditions).toContainEqual(expect.objectContaining({ type: 'Ready', reason: 'Suspended' }));
  });
});

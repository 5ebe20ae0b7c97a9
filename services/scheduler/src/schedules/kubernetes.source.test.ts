import { describe, expect, it } from 'vitest';
import { eventBody, schedulesPath, statusPatch, toSchedule } from './kubernetes.source.js';
import { restartDelayMs } from '../operator/watch.js';

describe('Kubernetes adapter translations', () => {
  it('lists one namespace or all', () => {
    expect(schedulesPath('team-a')).toBe('/apis/conveyor.dev/v1alpha1/namespaces/team-a/jobschedules');
    expect(schedulesPath('')).toBe('/apis/conveyor.dev/v1alpha1/jobschedules');
  });

  it('sends absent status fields as null so a merge patch clears them', () => {
    expect(statusPatch({ observedGeneration: 2, conditions: [] })).toEqual({
      status: { lastScheduleTime: null, nextScheduleTime: null, lastJobId: null, observedGeneration: 2, conditions: [] },
    });
  });

  it('builds an Event about the JobSchedule', () => {
    const now = new Date('2025-01-01T00:00:00Z');
    const body = eventBody({ metadata: { name: 'nightly', namespace: 'ops', uid: 'u1' } }, { type: 'Warning', reason: 'InvalidSpec', message: 'x'.repeat(2000) }, now, 'pod-1');
    expect(body).toMatchObject({
      metadata: { generateName: 'nightly.', namespace: 'ops' },
      involvedObject: { apiVersion: 'conveyor.dev/v1alpha1', kind: 'JobSchedule', name: 'nightly', namespace: 'ops', uid: 'u1' },
      type: 'Warning',
      reason: 'InvalidSpec',
      reportingComponent: 'conveyor-scheduler',
      reportingInstance: 'pod-1',
    });
    expect(body.message).toHaveLength(1024);
  });

  it('maps a watched object to the controller view', () => {
    const created = new Date('2025-01-01T00:00:00Z');
    const obj = toSchedule({
      apiVersion: 'conveyor.dev/v1alpha1',
      kind: 'JobSchedule',
      metadata: { name: 'a', namespace: 'n', uid: 'u', generation: 4, creationTimestamp: created, labels: { 'conveyor.dev/tenant': 't' } },
      spec: { schedule: '* * * * *' },
      status: { lastJobId: 'j' },
    });
    expect(obj).toMatchObject({ metadata: { name: 'a', namespace: 'n', uid: 'u', generation: 4, creationTimestamp: created }, spec: { schedule: '* * * * *' }, status: { lastJobId: 'j' } });
  });

  it('backs off exponentially up to a cap', () => {
    expect(restartDelayMs(0)).toBeLessThanOrEqual(500);
    expect(restartDelayMs(0)).toBeGreaterThanOrEqual(250);
    expect(restartDelayMs(20)).toBeLessThanOrEqual(30_000);
    expect(restartDelayMs(20)).toBeGreaterThanOrEqual(15_000);
  });
});

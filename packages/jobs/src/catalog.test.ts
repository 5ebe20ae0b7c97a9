import { describe, expect, it } from 'vitest';
import { JOB_TYPES } from './catalog.js';
import { poolOf, topology, WORKER_POOLS } from './topology.js';

describe('job type catalog and topology', () => {
  it('routes every job type to exactly one worker pool', () => {
    for (const type of JOB_TYPES.keys()) {
      expect(WORKER_POOLS.filter((p) => p.jobTypes.includes(type)), type).toHaveLength(1);
      expect(poolOf(type)).toBeDefined();
    }
    const pooled = WORKER_POOLS.flatMap((p) => p.jobTypes).sort();
    expect(pooled).toEqual([...JOB_TYPES.keys()].sort());
  });

  it('prefixes every name with the namespace', () => {
    const t = topology('t1');
    expect(t.topics).toEqual({ requested: 't1-jobs.requested', requestedOverflow: 't1-jobs.requested.overflow', events: 't1-jobs.events' });
    expect(t.queues.map((q) => q.queue)).toEqual(['t1-conveyor-default', 't1-conveyor-reports']);
    // The normal class keeps the pool's queue of before classes; high and low have their own.
    expect(t.queues[0]!.classQueues).toEqual({ high: 't1-conveyor-default-high', normal: 't1-conveyor-default', low: 't1-conveyor-default-low' });
    expect(t.queues[0]!.deadLetterQueue).toBe('t1-conveyor-default-dlq');
    expect(topology().snsTopic).toBe('jobs');
    expect(() => topology('Bad Name')).toThrow(/namespace/);
  });

  it('gives every type an example payload its own schema accepts', () => {
    for (const type of JOB_TYPES.values()) expect(type.payload.safeParse(type.example).success, type.type).toBe(true);
  });

  it('validates payloads with the schema beside each handler', () => {
    expect(JOB_TYPES.get('sleep')!.payload.safeParse({ ms: 10 }).success).toBe(true);
    expect(JOB_TYPES.get('sleep')!.payload.safeParse({ ms: -1 }).success).toBe(false);
    const report = JOB_TYPES.get('report.generate')!.payload;
    expect(report.parse({})).toEqual({ format: 'json' });
    expect(report.safeParse({ from: '2026-02-01T00:00:00Z', to: '2026-01-01T00:00:00Z' }).success).toBe(false);
  });
});

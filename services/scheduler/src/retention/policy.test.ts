import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { finishedJobsRules, parseRetention, retentionOverrides, ruleFor } from './policy.js';
import { longestKeep } from './retention.js';

describe('retention durations', () => {
  it('reads days, hours, minutes, seconds and forever', () => {
    expect(parseRetention('30d')).toBe(2_592_000);
    expect(parseRetention('24h')).toBe(86_400);
    expect(parseRetention('90m')).toBe(5_400);
    expect(parseRetention('3600s')).toBe(3_600);
    expect(parseRetention('forever')).toBeNull();
  });

  it('refuses what is not a duration, and anything under a minute', () => {
    expect(() => parseRetention('30 days')).toThrow('is not a duration');
    expect(() => parseRetention('-1d')).toThrow('is not a duration');
    expect(() => parseRetention('59s')).toThrow('shorter than a minute');
  });
});

describe('retention overrides', () => {
  const parse = (text: string) => retentionOverrides.safeParse(text);
  const reasons = (text: string) => (parse(text).error?.issues ?? []).map((i) => i.message).join('; ');

  it('needs JSON naming a tenant or type, each pair once, with a duration', () => {
    expect(reasons('{not json')).toContain('is not JSON');
    expect(reasons('[{"finishedJobs":"30d"}]')).toContain('names a tenant, a type or both');
    expect(reasons('[{"tenant":"a","finishedJobs":"1d"},{"tenant":"a","finishedJobs":"2d"}]')).toContain('names the same tenant and type twice');
    expect(reasons('[{"tenant":"a","finishedJobs":"soon"}]')).toContain('is not a duration');
    expect(reasons('[{"tenant":"a","finishedJob":"1d"}]')).toMatch(/Unrecognized key|expected string/);
    expect(parse('').success).toBe(false);
    expect(z.object({ o: retentionOverrides }).parse({}).o).toEqual([]);
  });

  it('applies the most specific rule: tenant and type, then tenant, then type, then the default', () => {
    const overrides = retentionOverrides.parse(
      JSON.stringify([
        { type: 'report.generate', finishedJobs: '7d' },
        { tenant: 'acme', finishedJobs: '90d' },
        { tenant: 'acme', type: 'report.generate', finishedJobs: 'forever' },
      ]),
    );
    const rules = finishedJobsRules(30 * 86_400, overrides);
    expect(rules.map((r) => [r.tenant, r.type])).toEqual([['acme', 'report.generate'], ['acme', null], [null, 'report.generate'], [null, null]]);
    expect(ruleFor(rules, 'acme', 'report.generate').keepSeconds).toBeNull();
    expect(ruleFor(rules, 'acme', 'noop').keepSeconds).toBe(90 * 86_400);
    expect(ruleFor(rules, 'demo', 'report.generate').keepSeconds).toBe(7 * 86_400);
    expect(ruleFor(rules, 'demo', 'noop').keepSeconds).toBe(30 * 86_400);
  });

  it('gives the alert the longest keep per table, and none for a table kept forever', () => {
    const rules = finishedJobsRules(30 * 86_400, retentionOverrides.parse('[{"tenant":"acme","finishedJobs":"90d"}]'));
    expect(longestKeep({ finishedJobs: rules, idempotencyKeySeconds: 86_400, notificationSeconds: 7 * 86_400 })).toEqual({
      jobs: 90 * 86_400,
      job_events: 90 * 86_400,
      notifications: 7 * 86_400,
    });
    const forever = finishedJobsRules(null, []);
    expect(longestKeep({ finishedJobs: forever, idempotencyKeySeconds: null, notificationSeconds: 86_400 })).toEqual({ notifications: 86_400 });
  });
});

import { describe, expect, it } from 'vitest';
import { parsePriority, priorityClassOf, priorityCode, PRIORITY_CLASSES } from './priority.js';

describe('priority classes', () => {
  it('round-trips every class through its stored code', () => {
    for (const c of PRIORITY_CLASSES) expect(priorityClassOf(priorityCode(c))).toBe(c);
  });

  it('maps the legacy integers by their sign, so rows written before classes read as what their number meant', () => {
    expect([100, 5, 1, 0, -1, -42, -100].map(priorityClassOf)).toEqual(['high', 'high', 'high', 'normal', 'low', 'low', 'low']);
  });

  it('accepts a class name or an integer of the legacy range, and names the valid classes for anything else', () => {
    expect(parsePriority('low')).toEqual({ ok: true, priority: 'low' });
    expect(parsePriority(-3)).toEqual({ ok: true, priority: 'low' });
    for (const bad of ['urgent', 'High', '', 101, -101, 0.5, null, true, {}]) {
      const parsed = parsePriority(bad);
      expect(parsed.ok).toBe(false);
      if (!parsed.ok) expect(parsed.problem.valid).toEqual(['high', 'normal', 'low']);
    }
  });
});

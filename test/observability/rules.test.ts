import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ALERTS_FILE, ROOT, allExpressions, dashboards, ruleFile, withBoolComparisons } from './expressions.js';

const run = promisify(execFile);

describe('alert rules and dashboards as shipped', () => {
  it('pass promtool check rules', async () => {
    const { stdout } = await run('promtool', ['check', 'rules', ALERTS_FILE]);
    expect(stdout).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('pass their promtool unit tests, which cover every alert', async () => {
    const testFile = path.join(ROOT, 'observability/alerts.test.yaml');
    const { stdout } = await run('promtool', ['test', 'rules', testFile]);
    expect(stdout).toContain('SUCCESS');
    const tested = new Set([...(await import('node:fs')).readFileSync(testFile, 'utf8').matchAll(/alertname: (\w+)/g)].map((m) => m[1]));
    const alerts = ruleFile().groups.flatMap((g) => g.rules.flatMap((r) => (r.alert ? [r.alert] : [])));
    expect(alerts.length).toBeGreaterThanOrEqual(7);
    for (const alert of alerts) expect(tested, `unit test for ${alert}`).toContain(alert);
  });

  it('give every alert a runbook_url naming a runbook that exists in the repo', () => {
    for (const group of ruleFile().groups) {
      for (const rule of group.rules.filter((r) => r.alert)) {
        const url = rule.annotations?.runbook_url ?? '';
        expect(url, rule.alert).toMatch(new RegExp(`/observability/runbooks/${rule.alert}\\.md$`));
        expect(existsSync(path.join(ROOT, 'observability/runbooks', `${rule.alert}.md`)), `${rule.alert}.md`).toBe(true);
      }
    }
  });

  it('ship the four dashboards, each panel on the datasource variable', () => {
    const titles = dashboards().map((d) => d.dashboard.title);
    expect(titles.sort()).toEqual(['Conveyor / Pipeline', 'Conveyor / Platform overview', 'Conveyor / Scheduler', 'Conveyor / Workers and autoscaling']);
    for (const { dashboard } of dashboards()) {
      expect(dashboard.templating.list.some((v) => v.name === 'datasource' && v.type === 'datasource')).toBe(true);
      for (const panel of dashboard.panels) {
        expect(panel.datasource.uid, panel.title).toBe('${datasource}');
        expect(panel.targets.length, panel.title).toBeGreaterThan(0);
      }
    }
  });

  it('show exemplars (trace links) on every panel drawn from a histogram whose buckets carry trace ids', () => {
    const traced = /conveyor_(http_server_request_duration_seconds|jobs_end_to_end_duration_seconds|jobs_enqueue_to_start_seconds|jobs_run_duration_seconds|jobs_start_lateness_seconds|scheduler_dispatch_lateness_seconds)_bucket/;
    const panels = dashboards().flatMap(({ dashboard }) => dashboard.panels.flatMap((p) => p.targets.filter((t) => traced.test(t.expr)).map((t) => ({ title: p.title, t }))));
    expect(panels.length).toBeGreaterThanOrEqual(6);
    for (const { title, t } of panels) expect(t.exemplar, title).toBe(true);
  });

  it('turns alert thresholds into bool comparisons for the live query test', () => {
    expect(withBoolComparisons('a > 0.05')).toBe('a > bool 0.05');
    expect(withBoolComparisons('a > 0 and on (pool) (b or c * 0) == 0')).toBe('a > bool 0 and on (pool) (b or c * 0) == bool 0');
    expect(withBoolComparisons('a{x=~"5.."} > bool 1')).toBe('a{x=~"5.."} > bool 1');
    expect(allExpressions().filter((e) => e.isAlert).every((e) => withBoolComparisons(e.expr).includes(' bool '))).toBe(true);
  });
});

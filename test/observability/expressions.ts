import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const ALERTS_FILE = path.join(ROOT, 'charts/conveyor/rules/conveyor-alerts.yaml');
export const DASHBOARDS_DIR = path.join(ROOT, 'charts/conveyor/dashboards');

export interface Expression {
  source: string;
  expr: string;
  /** Alert conditions are empty while healthy; `bool` comparisons still show every watched series. */
  isAlert: boolean;
}

interface RuleFile {
  groups: Array<{ name: string; rules: Array<{ alert?: string; record?: string; expr: string; annotations?: Record<string, string> }> }>;
}

export function ruleFile(): RuleFile {
  return parse(readFileSync(ALERTS_FILE, 'utf8')) as RuleFile;
}

interface Dashboard {
  title: string;
  templating: { list: Array<{ name: string; type: string }> };
  panels: Array<{ title: string; datasource: { uid: string }; targets: Array<{ expr: string; datasource: { uid: string }; exemplar?: boolean }> }>;
}

export function dashboards(): Array<{ file: string; dashboard: Dashboard }> {
  return readdirSync(DASHBOARDS_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((file) => ({ file, dashboard: JSON.parse(readFileSync(path.join(DASHBOARDS_DIR, file), 'utf8')) as Dashboard }));
}

/** Every PromQL expression the project ships: dashboard panels, recording rules and alerts. */
export function allExpressions(): Expression[] {
  const out: Expression[] = [];
  for (const { file, dashboard } of dashboards()) {
    for (const panel of dashboard.panels) {
      for (const target of panel.targets) out.push({ source: `${file} / ${panel.title}`, expr: target.expr, isAlert: false });
    }
  }
  for (const group of ruleFile().groups) {
    for (const rule of group.rules) {
      out.push({ source: `alerts.yaml / ${rule.alert ?? rule.record}`, expr: rule.expr, isAlert: rule.alert !== undefined });
    }
  }
  return out;
}

/** `a > 5` -> `a > bool 5`: the same series, valued 0 or 1, so a healthy system still answers. */
export function withBoolComparisons(expr: string): string {
  return expr.replace(/ (>=|<=|==|!=|>|<) (?!bool )/g, ' $1 bool ');
}

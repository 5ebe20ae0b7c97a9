import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chartDir, renderChart } from './render.js';

/**
 * Dashboards are plain JSON files in charts/conveyor/dashboards/ (filled by the observability
 * work); each must arrive in Grafana as a ConfigMap its sidecar picks up.
 */
describe('dashboard ConfigMaps', () => {
  const copy = mkdtempSync(path.join(tmpdir(), 'conveyor-chart-'));
  afterAll(() => rmSync(copy, { recursive: true, force: true }));
  cpSync(chartDir, copy, { recursive: true });
  const dashboard = JSON.stringify({ title: 'Conveyor test dashboard', panels: [] });
  writeFileSync(path.join(copy, 'dashboards/queue-depth.json'), dashboard);
  const values = path.join(chartDir, 'ci/kind-values.yaml');

  it('renders each dashboards/*.json as a ConfigMap labelled grafana_dashboard=1', () => {
    const configMaps = renderChart([values], {}, copy).filter((o) => o.kind === 'ConfigMap');
    const map = configMaps.find((c) => c.metadata.name === 'conveyor-dashboard-queue-depth');
    expect(map, configMaps.map((c) => c.metadata.name).join(', ')).toBeDefined();
    expect(map!.metadata.labels?.grafana_dashboard).toBe('1');
    expect(JSON.parse((map!.data as Record<string, string>)['queue-depth.json']!)).toEqual(JSON.parse(dashboard));
  });

  it('renders none when dashboards.enabled is false', () => {
    const objects = renderChart([values], { 'dashboards.enabled': 'false' }, copy);
    expect(objects.filter((o) => o.kind === 'ConfigMap')).toEqual([]);
  });
});

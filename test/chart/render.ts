import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';

/** Helpers for the chart tests: render with the real helm, validate with the real kubeconform. */

export const repoRoot = path.resolve(import.meta.dirname, '../..');
export const chartDir = path.join(repoRoot, 'charts/conveyor');
const cacheDir = process.env.CONVEYOR_CACHE_DIR ?? path.join(repoRoot, '.cache');
const toolsBin = path.join(cacheDir, 'tools/bin');
export const kubernetesVersion = process.env.KUBERNETES_VERSION ?? '1.34.0';

export function tool(name: 'helm' | 'kubeconform'): string {
  const fromEnv = process.env[`CONVEYOR_${name.toUpperCase()}`];
  const candidate = fromEnv ?? path.join(toolsBin, name);
  if (!existsSync(candidate)) throw new Error(`${candidate} not found: run \`make chart-test\` (scripts/chart-test.sh) to install it`);
  return candidate;
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- rendered manifests of many kinds
  [key: string]: unknown;
}

/** Every charts/conveyor/ci/*-values.yaml, so a new variant is tested without touching the tests. */
export function ciValuesFiles(): string[] {
  const files = readdirSync(path.join(chartDir, 'ci')).filter((f) => f.endsWith('-values.yaml')).sort();
  if (files.length === 0) throw new Error('no charts/conveyor/ci/*-values.yaml');
  return files.map((f) => path.join(chartDir, 'ci', f));
}

/** `helm template` with the given values files and --set pairs; returns the parsed objects. */
export function renderChart(valuesFiles: string[], set: Record<string, string> = {}, chart = chartDir): K8sObject[] {
  const args = ['template', 'conveyor', chart, '--namespace', 'conveyor', '--kube-version', kubernetesVersion];
  for (const file of valuesFiles) args.push('--values', file);
  for (const [key, value] of Object.entries(set)) args.push('--set', `${key}=${value}`);
  const out = execFileSync(tool('helm'), args, { encoding: 'utf8', maxBuffer: 32 * 1024 * 1024 });
  return parseAllDocuments(out)
    .map((doc) => doc.toJS() as K8sObject | null)
    .filter((obj): obj is K8sObject => obj !== null);
}

export interface Validation {
  ok: boolean;
  invalid: string[];
  output: string;
}

/** kubeconform -strict over objects, with the schema locations chart-test.sh prepared. */
export function kubeconform(objects: K8sObject[]): Validation {
  const locations = process.env.CONVEYOR_SCHEMA_LOCATIONS;
  if (!locations) throw new Error('CONVEYOR_SCHEMA_LOCATIONS is not set: run the chart tests through scripts/chart-test.sh');
  const dir = mkdtempSync(path.join(tmpdir(), 'conveyor-kubeconform-'));
  const file = path.join(dir, 'objects.json');
  // kubeconform reads a JSON or YAML stream; one object per line of JSON keeps it simple.
  writeFileSync(file, objects.map((o) => JSON.stringify(o)).join('\n---\n'));
  const args = ['-strict', '-summary', '-output', 'json', '-kubernetes-version', kubernetesVersion];
  for (const location of locations.split('\n').filter(Boolean)) args.push('-schema-location', location);
  args.push(file);
  let output: string;
  let ok = true;
  try {
    output = execFileSync(tool('kubeconform'), args, { encoding: 'utf8' });
  } catch (error) {
    ok = false;
    output = String((error as { stdout?: string }).stdout ?? error);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const report = JSON.parse(output) as { resources?: Array<{ kind: string; name: string; status: string }> };
  const invalid = (report.resources ?? [])
    .filter((r) => r.status !== 'statusValid')
    .map((r) => `${r.kind}/${r.name}: ${r.status}`);
  return { ok: ok && invalid.length === 0, invalid, output };
}

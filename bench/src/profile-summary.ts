import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** Top self-time frames of each .cpuprofile written by `node --cpu-prof` (one file per service process). */
interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/** Text report of every profile in dir, one block per service process. */
export function summariseProfiles(dir: string): string {
  const out: string[] = [];
for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort()) {
  const profile = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as { nodes: Node[]; samples: number[]; startTime: number; endTime: number };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  for (const id of profile.samples) {
    const n = byId.get(id)!;
    const where = n.callFrame.url.replace(/^file:\/\/.*?node_modules\//, '').replace(/^file:\/\/\/work\/main\//, '');
    const key = `${n.callFrame.functionName || '(anonymous)'} ${where}:${n.callFrame.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + 1);
  }
  const total = profile.samples.length || 1;
  const byPackage = new Map<string, number>();
  for (const [key, hits] of self) {
    const pkg = /^\S+ ((?:@[^/]+\/)?[^/:]+)/.exec(key)?.[1] ?? key;
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + hits);
  }
  out.push(`\n${file}: ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s profiled, ${total} samples\n`);
  out.push('  top self time by frame:\n');
  for (const [key, hits] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 12)) {
    out.push(`    ${((hits / total) * 100).toFixed(1).padStart(5)}%  ${key}\n`);
  }
  out.push('  by package/file:\n');
  for (const [pkg, hits] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 8)) {
    out.push(`    ${((hits / total) * 100).toFixed(1).padStart(5)}%  ${pkg}\n`);
  }
}
  return out.join('');
}

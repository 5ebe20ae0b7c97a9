import { readdirSync, readFileSync } from 'node:fs';

/** One process whose CPU time is charged to a system; role "infra" for shared servers. */
export interface Proc {
  name: string;
  pid: number;
  role: 'service' | 'infra';
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** utime + stime of a process (all its threads) in seconds; 0 once it has gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces; fields are counted after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

export type CpuSnapshot = Map<string, number>;

function key(p: Proc): string {
  return `${p.role}:${p.name}`;
}

/** Sum per name (several Postgres backends add up to one "postgres" line). */
export function snapshot(procs: readonly Proc[]): CpuSnapshot {
  const totals: CpuSnapshot = new Map();
  for (const p of procs) totals.set(key(p), (totals.get(key(p)) ?? 0) + cpuSeconds(p.pid));
  return totals;
}

/** CPU seconds per 1,000 jobs for every process line, plus the system's total. */
export function perThousand(before: CpuSnapshot, after: CpuSnapshot, jobs: number): Record<string, number> {
  const out: Record<string, number> = {};
  let total = 0;
  for (const [name, end] of after) {
    const used = Math.max(0, end - (before.get(name) ?? 0));
    total += used;
    out[name] = Math.round((used / jobs) * 1000 * 1000) / 1000;
  }
  out.total = Math.round((total / jobs) * 1000 * 1000) / 1000;
  return out;
}

/** Pids whose command line contains the text (the emulator and Kafka have no pid file we can rely on). */
export function pidsMatching(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSafe('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmd.includes(text)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

import { readdirSync, readFileSync } from 'node:fs';

/** One process whose CPU time is charged to a system; role "infra" for shared servers. */
export interface Proc {
  name: string;
  pid: number;
  role: 'service' | 'infra';
  /** Count its children too, live and exited: Postgres backends come and go with the clients' pools. */
  tree?: boolean;
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** The fields of /proc/<pid>/stat after the command name (which may hold spaces); [] once it has gone. */
function statFields(pid: number): string[] {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return [];
  }
}

/**
 * utime + stime of a process (all its threads) in seconds; 0 once it has gone. With `tree`, plus
 * what its exited children used (cutime + cstime) and what its live children used so far.
 */
export function cpuSeconds(pid: number, tree = false): number {
  const fields = statFields(pid);
  if (fields.length === 0) return 0;
  const own = Number(fields[11]) + Number(fields[12]);
  if (!tree) return own / TICKS_PER_SECOND;
  let total = own + Number(fields[13]) + Number(fields[14]);
  for (const entry of readdirSafe('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const child = statFields(Number(entry));
    if (Number(child[1]) === pid) total += Number(child[11]) + Number(child[12]);
  }
  return total / TICKS_PER_SECOND;
}

/**
 * The Postgres server as one process tree: every backend of every client, plus the WAL writer,
 * checkpointer and the rest, so durability costs count and short-lived connections are not missed.
 */
export function postgresServer(root: string): Proc {
  const pid = Number(readFileSync(`${root}/.run/postgres/data/postmaster.pid`, 'utf8').split('\n')[0]);
  return { name: 'postgres', pid, role: 'infra', tree: true };
}

export type CpuSnapshot = Map<string, number>;

function key(p: Proc): string {
  return `${p.role}:${p.name}`;
}

/** Sum per name (several Postgres backends add up to one "postgres" line). */
export function snapshot(procs: readonly Proc[]): CpuSnapshot {
  const totals: CpuSnapshot = new Map();
  for (const p of procs) totals.set(key(p), (totals.get(key(p)) ?? 0) + cpuSeconds(p.pid, p.tree));
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

/**
 * What a process's threads did so far besides computing: read- and write-family system calls
 * (/proc/<pid>/io syscr, syscw; socket reads and writes included) and the times they blocked and
 * were woken again (voluntary context switches, summed over /proc/<pid>/task/*). Every message a
 * process sends or waits for over loopback costs some of each.
 */
export interface Activity {
  reads: number;
  writes: number;
  wakeups: number;
}

/** Each process of the line and, with `tree`, its live children, by pid. */
function activityByPid(pid: number, tree: boolean): Map<number, Activity> {
  const byPid = new Map([[pid, activityOf(pid)]]);
  if (!tree) return byPid;
  for (const entry of readdirSafe('/proc')) {
    if (/^\d+$/.test(entry) && Number(statFields(Number(entry))[1]) === pid) byPid.set(Number(entry), activityOf(Number(entry)));
  }
  return byPid;
}

function activityOf(pid: number): Activity {
  const field = (text: string, name: string) => Number(new RegExp(`^${name}:\\s*(\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    let wakeups = 0;
    for (const task of readdirSafe(`/proc/${pid}/task`)) {
      try {
        wakeups += field(readFileSync(`/proc/${pid}/task/${task}/status`, 'utf8'), 'voluntary_ctxt_switches');
      } catch {
        // the thread ended meanwhile
      }
    }
    return { reads: field(io, 'syscr'), writes: field(io, 'syscw'), wakeups };
  } catch {
    return { reads: 0, writes: 0, wakeups: 0 };
  }
}

/** Per process line, per pid: counters are per process, so a backend that exits takes its own with it. */
export type ActivitySnapshot = Map<string, Map<number, Activity>>;

export function activitySnapshot(procs: readonly Proc[]): ActivitySnapshot {
  const lines: ActivitySnapshot = new Map();
  for (const p of procs) {
    const line = lines.get(key(p)) ?? new Map<number, Activity>();
    for (const [pid, counts] of activityByPid(p.pid, p.tree ?? false)) line.set(pid, counts);
    lines.set(key(p), line);
  }
  return lines;
}

/**
 * Per job, for every process line and the system's total: system calls and wake-ups of the
 * processes alive at the end, counted from the start (or from their birth). A process that ended
 * in between (a Postgres backend whose client closed it) is left out rather than subtracted.
 */
export function activityPerJob(before: ActivitySnapshot, after: ActivitySnapshot, jobs: number): Record<string, Activity> {
  const out: Record<string, Activity> = {};
  const total: Activity = { reads: 0, writes: 0, wakeups: 0 };
  const per = (n: number) => Math.round((n / jobs) * 100) / 100;
  for (const [name, pids] of after) {
    const used: Activity = { reads: 0, writes: 0, wakeups: 0 };
    for (const [pid, end] of pids) {
      const start = before.get(name)?.get(pid) ?? { reads: 0, writes: 0, wakeups: 0 };
      // A pid reused by a new process shows counters below the old one's: count it from zero.
      const since = (k: keyof Activity) => (end[k] >= start[k] ? end[k] - start[k] : end[k]);
      used.reads += since('reads');
      used.writes += since('writes');
      used.wakeups += since('wakeups');
    }
    total.reads += used.reads;
    total.writes += used.writes;
    total.wakeups += used.wakeups;
    out[name] = { reads: per(used.reads), writes: per(used.writes), wakeups: per(used.wakeups) };
  }
  out.total = { reads: per(total.reads), writes: per(total.writes), wakeups: per(total.wakeups) };
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

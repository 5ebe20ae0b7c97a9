import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

// The pid bookkeeping every local server relies on (scripts/infra/lib.sh), run in real bash.
const lib = resolve(import.meta.dirname, '../../scripts/infra/lib.sh');
const dirs: string[] = [];

function bash(script: string): string {
  return execFileSync('bash', ['-c', `set -euo pipefail; source "$LIB"; ${script}`], {
    env: { ...process.env, LIB: lib, INFRA_STOP_TIMEOUT: '5' },
    encoding: 'utf8',
  });
}

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'infra-lib-'));
  dirs.push(dir);
  return dir;
}

// Exited processes may linger as zombies until whoever adopted them reaps them: those do not run.
function running(pid: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

afterEach(() => {
  for (const dir of dirs.splice(0)) {
    const pid = readFileSync(join(dir, 'server.pid'), { encoding: 'utf8', flag: 'a+' }).trim();
    if (pid && running(pid)) process.kill(Number(pid), 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('infra pid files', () => {
  it('stops a server started with another command line than the one stop looks for (another cache dir)', () => {
    const dir = scratch();
    const pidfile = join(dir, 'server.pid');
    bash(`start_bg "${pidfile}" "${dir}/server.log" sleep 300`);
    const pid = readFileSync(pidfile, 'utf8').trim();
    expect(running(pid)).toBe(true);

    // The command line holds no "/other/cache/fauxqs"; the start time recorded by start_bg still names it.
    expect(bash(`pidfile_alive "${pidfile}" /other/cache/fauxqs && echo alive || echo gone`).trim()).toBe('alive');
    const out = bash(`stop_pidfile "${pidfile}" server /other/cache/fauxqs`);
    expect(out).toContain(`stopping server (pid ${pid})`);
    expect(running(pid)).toBe(false);
    expect(bash(`[[ -e "${pidfile}" || -e "${pidfile}.started" ]] && echo left || echo clean`).trim()).toBe('clean');
  });

  it('does not take a reused pid for the server: another start time is not alive and is not signalled', () => {
    const dir = scratch();
    const pidfile = join(dir, 'server.pid');
    bash(`start_bg "${pidfile}" "${dir}/server.log" sleep 300`);
    const pid = readFileSync(pidfile, 'utf8').trim();
    // As if the server died and an unrelated process got its pid: the recorded start time differs.
    writeFileSync(`${pidfile}.started`, '1\n');
    expect(bash(`pidfile_alive "${pidfile}" sleep && echo alive || echo gone`).trim()).toBe('gone');
    expect(bash(`stop_pidfile "${pidfile}" server sleep`)).toContain('server is not running');
    expect(running(pid)).toBe(true);
  });

  it('falls back to the command line for a pid file written before start times were recorded', () => {
    const dir = scratch();
    const pidfile = join(dir, 'server.pid');
    bash(`start_bg "${pidfile}" "${dir}/server.log" sleep 300`);
    rmSync(`${pidfile}.started`);
    expect(bash(`pidfile_alive "${pidfile}" "sleep 300" && echo alive || echo gone`).trim()).toBe('alive');
    expect(bash(`pidfile_alive "${pidfile}" fauxqs && echo alive || echo gone`).trim()).toBe('gone');
  });
});

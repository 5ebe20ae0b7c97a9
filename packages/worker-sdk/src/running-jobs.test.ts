import { describe, expect, it } from 'vitest';
import { RunningJobs } from './running-jobs.js';

describe('the runs a cancellation announcement can reach', () => {
  it('wakes only the run of the announced job, and nothing once it has ended', () => {
    const running = new RunningJobs();
    const woken: string[] = [];
    const endA = running.add('a', () => woken.push('a'));
    running.add('b', () => woken.push('b'));
    running.cancelRequested('a');
    running.cancelRequested('unknown');
    expect(woken).toEqual(['a']);
    endA();
    running.cancelRequested('a');
    expect(woken).toEqual(['a']);
    expect(running.size).toBe(1);
  });

  it('keeps a later run of the same job registered when an earlier one ends', () => {
    const running = new RunningJobs();
    const woken: string[] = [];
    const endFirst = running.add('a', () => woken.push('first'));
    running.add('a', () => woken.push('second'));
    endFirst();
    running.cancelRequested('a');
    expect(woken).toEqual(['second']);
  });

  it('wakes every run when announcements may have been missed', () => {
    const running = new RunningJobs();
    const woken: string[] = [];
    running.add('a', () => woken.push('a'));
    running.add('b', () => woken.push('b'));
    running.checkAll();
    expect(woken.sort()).toEqual(['a', 'b']);
  });
});

import { HttpError } from './http-errors.js';

/** How far from now a job may be scheduled: documented in README.md, set by RUN_AT_MAX_DAYS_*. */
export interface RunAtWindow {
  maxDaysBehind: number;
  maxDaysAhead: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** Why `when` is outside the window, or undefined. A past instant means "as soon as possible", within reason. */
export function runAtProblem(when: Date, now: Date, window: RunAtWindow): { earliest: string; latest: string } | undefined {
  const earliest = new Date(now.getTime() - window.maxDaysBehind * DAY_MS);
  const latest = new Date(now.getTime() + window.maxDaysAhead * DAY_MS);
  if (when >= earliest && when <= latest) return undefined;
  return { earliest: earliest.toISOString(), latest: latest.toISOString() };
}

/** 422 naming the field and the window when `when` lies outside it. */
export function checkRunAt(field: string, when: Date, now: Date, window: RunAtWindow): void {
  const problem = runAtProblem(when, now, window);
  if (!problem) return;
  throw new HttpError(
    422,
    `${field} must be at most ${window.maxDaysBehind} day(s) in the past and at most ${window.maxDaysAhead} day(s) in the future`,
    { field, ...problem },
  );
}

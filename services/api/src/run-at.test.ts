import { describe, expect, it } from 'vitest';
import { HttpError } from './http-errors.js';
import { checkRunAt, runAtProblem } from './run-at.js';

const now = new Date('2030-06-01T12:00:00Z');
const window = { maxDaysBehind: 1, maxDaysAhead: 365 };

describe('the runAt window', () => {
  it('accepts instants from a day ago to a year ahead, bounds included', () => {
    for (const when of ['2030-05-31T12:00:00Z', '2030-06-01T12:00:00Z', '2031-06-01T12:00:00Z']) {
      expect(runAtProblem(new Date(when), now, window), when).toBeUndefined();
    }
  });

  it('refuses year 0001 and 9999 with 422 naming the field and the window', () => {
    for (const when of ['0001-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '2030-05-31T11:59:59Z', '2031-06-01T12:00:01Z']) {
      let error: unknown;
      try {
        checkRunAt('runAt', new Date(when), now, window);
      } catch (e) {
        error = e;
      }
      expect(error, when).toBeInstanceOf(HttpError);
      expect((error as HttpError).status).toBe(422);
      expect((error as HttpError).message).toBe('runAt must be at most 1 day(s) in the past and at most 365 day(s) in the future');
      expect((error as HttpError).details).toEqual({ field: 'runAt', earliest: '2030-05-31T12:00:00.000Z', latest: '2031-06-01T12:00:00.000Z' });
    }
  });
});

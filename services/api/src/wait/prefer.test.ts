import { describe, expect, it } from 'vitest';
import { MAX_WAIT_SECONDS, parsePreferWait } from './prefer.js';

describe('parsePreferWait', () => {
  it('reads wait=N, case-insensitive, with spaces, quotes and among other preferences', () => {
    expect(parsePreferWait('wait=5')).toBe(5);
    expect(parsePreferWait('Wait = 7')).toBe(7);
    expect(parsePreferWait('wait="3"')).toBe(3);
    expect(parsePreferWait('respond-async, wait=10')).toBe(10);
    expect(parsePreferWait('return=minimal; foo=bar, wait=2; x=y')).toBe(2);
    expect(parsePreferWait(['handling=lenient', 'wait=4'])).toBe(4);
    expect(parsePreferWait('wait=0')).toBe(0);
  });

  it('caps a longer wait at the maximum', () => {
    expect(parsePreferWait('wait=31')).toBe(MAX_WAIT_SECONDS);
    expect(parsePreferWait('wait=99999999999999999999')).toBe(MAX_WAIT_SECONDS);
  });

  it('ignores a missing or malformed wait (RFC 7240: never an error), and counts only the first instance', () => {
    for (const header of [undefined, '', 'respond-async', 'waiting=5', 'wait', 'wait=', 'wait=abc', 'wait=-1', 'wait=1.5', 'wait=5s', 'wait="5']) {
      expect(parsePreferWait(header), String(header)).toBeUndefined();
    }
    expect(parsePreferWait('wait=abc, wait=5')).toBeUndefined();
    expect(parsePreferWait('wait=2, wait=9')).toBe(2);
  });
});

import { describe, expect, it } from 'vitest';
import { bodyProblem, MAX_JSON_DEPTH } from './request.js';

describe('bodyProblem', () => {
  it('finds U+0000 in nested values and keys, and nothing in clean bodies', () => {
    expect(bodyProblem({ type: 'noop', payload: { a: ['ok', 'b\u0000d'] } })?.path).toEqual(['payload', 'a', 1]);
    expect(bodyProblem({ payload: { ['k\u0000']: 1 } })?.path).toEqual(['payload', 'k\u0000']);
    expect(bodyProblem({ userId: 'u\u0000' })?.message).toMatch(/NUL/);
    expect(bodyProblem({ type: 'noop', payload: { n: 1, s: 'x', nested: [{ t: true }] } })).toBeUndefined();
    expect(bodyProblem(undefined)).toBeUndefined();
  });

  it('finds unpaired surrogates (JSON "\\ud800") in values and keys, and lets surrogate pairs pass', () => {
    expect(bodyProblem(JSON.parse('{"type":"noop","payload":{"a":"\\ud800"}}'))).toEqual({
      path: ['payload', 'a'],
      message: expect.stringMatching(/unpaired UTF-16 surrogate/),
    });
    expect(bodyProblem(JSON.parse('{"payload":{"\\udc00k":1}}'))?.message).toMatch(/^key .*surrogate/);
    expect(bodyProblem(JSON.parse('{"payload":{"a":"\\ud83d\\ude00"}}'))).toBeUndefined();
  });

  it('refuses nesting deeper than the limit and accepts it up to the limit', () => {
    const nest = (depth: number): unknown => (depth === 0 ? 1 : { a: nest(depth - 1) });
    expect(bodyProblem(nest(MAX_JSON_DEPTH))).toBeUndefined();
    expect(bodyProblem(nest(MAX_JSON_DEPTH + 1))?.message).toMatch(/nested deeper/);
  });
});

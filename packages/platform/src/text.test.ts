import { describe, expect, it } from 'vitest';
import { headersProblem, requestTargetProblem, textProblem } from './text.js';

describe('text a client may send', () => {
  it('refuses NUL and unpaired surrogates, and accepts paired ones and other text', () => {
    expect(textProblem('a\u0000b')).toMatch(/NUL/);
    expect(textProblem('\ud800')).toMatch(/unpaired UTF-16 surrogate/);
    expect(textProblem('x\udfff')).toMatch(/surrogate/);
    expect(textProblem('\udc00\ud800')).toMatch(/surrogate/);
    expect(textProblem('😀 ü ✓')).toBeUndefined();
    expect(textProblem('')).toBeUndefined();
  });

  it('decodes path and query before checking, and refuses what is not UTF-8 or not ASCII', () => {
    expect(requestTargetProblem('/points/%00')).toEqual({ where: 'path', reason: expect.stringMatching(/^path .*NUL/) });
    expect(requestTargetProblem('/points/%ED%A0%80')?.reason).toBe('path is not valid percent-encoded UTF-8');
    expect(requestTargetProblem('/points/%C0%80')?.where).toBe('path');
    expect(requestTargetProblem('/points/%zz')?.where).toBe('path');
    expect(requestTargetProblem('/points/caf\u00e9')?.reason).toMatch(/ASCII/);
    expect(requestTargetProblem('/jobs?type=a%00b')).toEqual({ where: 'query', reason: expect.stringMatching(/NUL/) });
    expect(requestTargetProblem('/jobs?%00=1')?.where).toBe('query');
    expect(requestTargetProblem('/jobs?cursor=%F0%9F%98%80&limit=2&flag')).toBeUndefined();
    expect(requestTargetProblem('/points/u%2F1?x=a+b')).toBeUndefined();
  });

  it('refuses header values that are not UTF-8 (an encoded surrogate) and names the header', () => {
    expect(headersProblem(['Idempotency-Key', Buffer.from([0x6b, 0xed, 0xa0, 0x80]).toString('latin1')])?.reason).toBe(
      'header Idempotency-Key is not valid UTF-8',
    );
    expect(headersProblem(['X-Name', Buffer.from('ü', 'utf8').toString('latin1'), 'Accept', '*/*'])).toBeUndefined();
  });
});

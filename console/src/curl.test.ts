import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { curlCommand, shellQuote } from './curl';

describe('copy as curl', () => {
  it('quotes for a POSIX shell, so the shell hands curl exactly the original text', () => {
    const nasty = `it's "quoted" $HOME \`id\` \\ ; rm -rf /`;
    const echoed = execFileSync('sh', ['-c', `printf %s ${shellQuote(nasty)}`]).toString();
    expect(echoed).toBe(nasty);
    expect(shellQuote('http://127.0.0.1:8080/jobs/abc')).toBe('http://127.0.0.1:8080/jobs/abc');
  });

  it('leaves the token as $TOKEN and sends a JSON body', () => {
    const command = curlCommand({ method: 'POST', url: 'http://gw/jobs', body: { type: 'sleep', payload: { ms: 1 } }, headers: { 'Idempotency-Key': 'k1' } });
    expect(command).toBe(`curl -sS http://gw/jobs -H "authorization: Bearer $TOKEN" -H 'Idempotency-Key: k1' -H 'content-type: application/json' -d '{"type":"sleep","payload":{"ms":1}}'`);
    expect(curlCommand({ method: 'DELETE', url: 'http://gw/jobs/1' })).toBe('curl -sS -X DELETE http://gw/jobs/1 -H "authorization: Bearer $TOKEN"');
  });
});

import type { LookupAddress } from 'node:dns';
import { describe, expect, it } from 'vitest';
import { allowedOnlyLookup, BlockedWebhookTarget, callbackUrlProblem, isPublicAddress, STRICT_POLICY, targetPolicy } from './target.js';

/** Every notation of a non-public address that WHATWG URL accepts as a host, and what it is. */
const REFUSED_LITERALS = [
  'http://127.0.0.1/',
  'http://127.1/',
  'http://0x7f000001/',
  'http://2130706433/',
  'http://0177.0.0.1/',
  'http://0x7f.1/',
  'http://127.000.000.001/',
  'http://[::ffff:127.0.0.1]/',
  'http://[0:0:0:0:0:ffff:7f00:1]/',
  'http://[::127.0.0.1]/',
  'http://[::1]/',
  'http://0.0.0.0/',
  'http://0/',
  'http://[::]/',
  'http://169.254.169.254/latest/meta-data/',
  'http://[::ffff:169.254.169.254]/',
  'http://[fd00:ec2::254]/latest/meta-data/',
  'http://10.0.0.1/',
  'http://172.16.0.1/',
  'http://192.168.1.1/',
  'http://100.64.0.1/',
  'http://100.100.100.200/',
  'http://192.0.0.192/',
  'http://224.0.0.1/',
  'http://255.255.255.255/',
  'http://[fd00::1]/',
  'http://[fe80::1]/',
  'http://[ff02::1]/',
  'http://[64:ff9b::7f00:1]/',
  'http://[2002:7f00:1::]/',
];

describe('webhook target addresses', () => {
  it.each([
    '127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '255.255.255.255',
    '::1', '::', 'fe80::1', 'fc00::1', 'fd12:3456::1', '::ffff:127.0.0.1', '::ffff:169.254.169.254', '::7f00:1', 'not-an-ip',
  ])('%s is not public', (address) => {
    expect(isPublicAddress(address)).toBe(false);
  });

  it.each(['93.184.215.14', '8.8.8.8', '2606:4700:4700::1111'])('%s is public', (address) => {
    expect(isPublicAddress(address)).toBe(true);
  });
});

describe('callbackUrl at submit', () => {
  it.each(REFUSED_LITERALS)('refuses %s by default', (url) => {
    expect(callbackUrlProblem(url, STRICT_POLICY)).toMatch(/address: webhooks go to public addresses only/);
  });

  it('refuses credentials in the URL', () => {
    expect(callbackUrlProblem('http://u:p@127.0.0.1:18999/poison', STRICT_POLICY)).toMatch(/must not contain credentials/);
    expect(callbackUrlProblem('https://user@hooks.example.com/', STRICT_POLICY)).toMatch(/must not contain credentials/);
  });

  it('lets public literals and names through (names are checked when connecting)', () => {
    expect(callbackUrlProblem('https://hooks.example.com/in?token=x', STRICT_POLICY)).toBeUndefined();
    expect(callbackUrlProblem('http://localhost:9000/', STRICT_POLICY)).toBeUndefined();
    expect(callbackUrlProblem('http://8.8.8.8/', STRICT_POLICY)).toBeUndefined();
    expect(callbackUrlProblem('http://[2606:4700:4700::1111]/', STRICT_POLICY)).toBeUndefined();
  });

  it('allows exactly what the operator names: a host, or a range', () => {
    const policy = targetPolicy(['127.0.0.2', 'receiver.internal'], ['10.20.0.0/16', 'fd00:1::/32']);
    expect(callbackUrlProblem('http://127.0.0.2:9000/', policy)).toBeUndefined();
    expect(callbackUrlProblem('http://127.0.0.1:9000/', policy)).toBeDefined();
    expect(callbackUrlProblem('http://10.20.3.4/', policy)).toBeUndefined();
    expect(callbackUrlProblem('http://[::ffff:10.20.3.4]/', policy)).toBeUndefined();
    expect(callbackUrlProblem('http://10.21.0.1/', policy)).toBeDefined();
    expect(callbackUrlProblem('http://[fd00:1::5]/', policy)).toBeUndefined();
    expect(callbackUrlProblem('http://169.254.169.254/', policy)).toBeDefined();
  });

  it('refuses a malformed allow list naming the entry', () => {
    expect(() => targetPolicy([], ['10.0.0.0'])).toThrow(/10\.0\.0\.0/);
    expect(() => targetPolicy(['exa mple'])).toThrow(/exa mple/);
  });
});

describe('the connect-time lookup', () => {
  const answers = (...addresses: string[]) => (_host: string, _options: object, callback: (e: null, a: LookupAddress[]) => void) =>
    callback(null, addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })));
  const lookup = (policy = STRICT_POLICY, ...addresses: string[]) =>
    new Promise<{ error: unknown; address: unknown }>((resolve) =>
      allowedOnlyLookup(policy, answers(...addresses))('rebind.example', { all: true }, (error, address) => resolve({ error, address })),
    );

  it('drops non-public answers and refuses a name that resolves only to them (DNS rebinding)', async () => {
    expect((await lookup(STRICT_POLICY, '127.0.0.1', '::1')).error).toBeInstanceOf(BlockedWebhookTarget);
    expect((await lookup(STRICT_POLICY, '10.0.0.1', '8.8.8.8')).address).toEqual([{ address: '8.8.8.8', family: 4 }]);
  });

  it('lets an allowed host resolve anywhere, and an allowed range be dialled for any name', async () => {
    expect((await lookup(targetPolicy(['rebind.example']), '127.0.0.1')).address).toEqual([{ address: '127.0.0.1', family: 4 }]);
    expect((await lookup(targetPolicy([], ['127.0.0.0/8']), '127.0.0.1')).error).toBeNull();
  });
});

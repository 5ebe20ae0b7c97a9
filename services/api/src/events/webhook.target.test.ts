import { describe, expect, it } from 'vitest';
import { assertPublicHost, isPublicAddress } from './webhook.target.js';

describe('webhook target addresses', () => {
  it.each([
    '127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '255.255.255.255',
    '::1', '::', 'fe80::1', 'fc00::1', 'fd12:3456::1', '::ffff:127.0.0.1', '::ffff:169.254.169.254', 'not-an-ip',
  ])('%s is not public', (address) => {
    expect(isPublicAddress(address)).toBe(false);
  });

  it.each(['93.184.215.14', '8.8.8.8', '2606:4700:4700::1111'])('%s is public', (address) => {
    expect(isPublicAddress(address)).toBe(true);
  });

  it('refuses private IP literals in URLs (IPv6 in brackets too) and lets names through to the lookup', () => {
    expect(() => assertPublicHost(new URL('http://169.254.169.254/latest/meta-data/'))).toThrow(/169\.254\.169\.254/);
    expect(() => assertPublicHost(new URL('http://[::1]:8080/'))).toThrow(/private, loopback/);
    expect(() => assertPublicHost(new URL('https://hooks.example.com/x'))).not.toThrow();
  });
});

import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import ipaddr from 'ipaddr.js';
import { Agent } from 'undici';

/**
 * Where a tenant's callbackUrl may point. Only global unicast addresses are public; everything
 * else (loopback, RFC 1918, link-local with the cloud metadata service at 169.254.169.254, CGNAT,
 * unique-local IPv6, multicast, unspecified, reserved, and IPv4 addresses wrapped in IPv6) is a
 * server-side request forgery target, refused unless the operator names the host or its range.
 */
export interface TargetPolicy {
  /** WEBHOOK_ALLOWED_HOSTS: host names (or literal addresses) allowed whatever they resolve to. */
  allowedHosts: ReadonlySet<string>;
  /** WEBHOOK_ALLOWED_CIDRS: non-public ranges allowed for any host that is or resolves into them. */
  allowedRanges: ReadonlyArray<[ipaddr.IPv4 | ipaddr.IPv6, number]>;
}

/** A webhook whose host is (or resolves to) an address Conveyor must not call on a tenant's behalf. */
export class BlockedWebhookTarget extends Error {
  readonly code = 'EBLOCKEDTARGET';
  constructor(host: string, address: string, range: string) {
    super(`webhook target ${host} is ${address}, a ${range} address: webhooks go to public addresses only unless the operator allows the host or range`);
    this.name = 'BlockedWebhookTarget';
  }
}

/** The host as WHATWG URL leaves it (127.1, 0x7f000001 and 2130706433 are already 127.0.0.1), lower case, without brackets or a final dot. */
export function normaliseHost(host: string): string {
  return host.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
}

/** Parses WEBHOOK_ALLOWED_HOSTS / WEBHOOK_ALLOWED_CIDRS; throws with the offending entry. */
export function targetPolicy(hosts: readonly string[] = [], cidrs: readonly string[] = []): TargetPolicy {
  const allowedHosts = new Set(
    hosts.map((host) => {
      try {
        return normaliseHost(new URL(`http://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}/`).hostname);
      } catch {
        throw new Error(`not a host name or address: ${host}`);
      }
    }),
  );
  const allowedRanges = cidrs.map((cidr) => {
    try {
      return ipaddr.parseCIDR(cidr);
    } catch {
      throw new Error(`not a CIDR range (address/prefix): ${cidr}`);
    }
  });
  return { allowedHosts, allowedRanges };
}

export const STRICT_POLICY: TargetPolicy = targetPolicy();

/** IPv6 global unicast is 2000::/3; outside it (the IPv4-compatible ::a.b.c.d among others) nothing is public. */
const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3');

/** `undefined` when the address is public, else what kind of address it is (for the message). */
export function nonPublicRange(address: string): string | undefined {
  if (!ipaddr.isValid(address)) return 'invalid';
  const parsed = ipaddr.process(address);
  const range = parsed.range();
  if (range !== 'unicast') return range;
  if (parsed.kind() === 'ipv6' && !parsed.match(GLOBAL_UNICAST_V6)) return 'non-global IPv6';
  return undefined;
}

export function isPublicAddress(address: string): boolean {
  return nonPublicRange(address) === undefined;
}

function inAllowedRange(address: string, policy: TargetPolicy): boolean {
  if (!ipaddr.isValid(address)) return false;
  const candidates = [ipaddr.parse(address), ipaddr.process(address)];
  return policy.allowedRanges.some(([range, bits]) => candidates.some((a) => a.kind() === range.kind() && a.match(range, bits)));
}

/** Why a connection to `address` (for a URL whose host is `host`) is refused, or `undefined` when it may go ahead. */
export function refusedAddress(host: string, address: string, policy: TargetPolicy): string | undefined {
  if (policy.allowedHosts.has(normaliseHost(host))) return undefined;
  const range = nonPublicRange(address);
  if (range === undefined || inAllowedRange(address, policy)) return undefined;
  return range;
}

/**
 * Why a callbackUrl is refused when a job is submitted, or `undefined`. Literal addresses are
 * checked here in whatever notation WHATWG URL accepted; names are checked at connect time,
 * against every address they resolve to.
 */
export function callbackUrlProblem(raw: string, policy: TargetPolicy): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'is not a URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be an http or https URL';
  if (url.username || url.password) {
    return 'must not contain credentials (user:password@): authenticate the request by its Conveyor-Signature, or with a token in the path or query';
  }
  const host = normaliseHost(url.hostname);
  if (!ipaddr.isValid(host)) return undefined;
  const range = refusedAddress(host, host, policy);
  return range ? `points at ${host}, a ${range} address: webhooks go to public addresses only unless the operator allows the host or range` : undefined;
}

/** Refuses a URL that `callbackUrlProblem` refuses; literal addresses connect without a lookup, so this is their check. */
export function assertAllowedTarget(url: URL, policy: TargetPolicy): void {
  const host = normaliseHost(url.hostname);
  if (!ipaddr.isValid(host)) return;
  const range = refusedAddress(host, host, policy);
  if (range) throw new BlockedWebhookTarget(url.hostname, host, range);
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
type Lookup = (hostname: string, options: LookupOptions, callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

/**
 * A dns.lookup that drops refused answers, used by the connection itself: the address checked is
 * the address dialled, so a name that resolves differently a second later (DNS rebinding) cannot
 * slip through.
 */
export function allowedOnlyLookup(policy: TargetPolicy, resolve: Lookup = (h, o, cb) => dnsLookup(h, { ...o, all: true }, cb)) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    resolve(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, []);
      const allowed = addresses.filter((a) => refusedAddress(hostname, a.address, policy) === undefined);
      if (allowed.length === 0) {
        const first = addresses[0]?.address ?? 'unresolvable';
        return callback(new BlockedWebhookTarget(hostname, first, nonPublicRange(first) ?? 'refused'), []);
      }
      if (options.all) return callback(null, allowed);
      callback(null, allowed[0]!.address, allowed[0]!.family);
    });
  };
}

/** The connection pool webhooks go through: it dials only addresses the policy allows. */
export function webhookAgent(policy: TargetPolicy): Agent {
  return new Agent({ connect: { lookup: allowedOnlyLookup(policy) } });
}

/** The blocked-target error inside whatever fetch wrapped it in. */
export function blockedTargetOf(error: unknown): BlockedWebhookTarget | undefined {
  for (let e = error; e; e = (e as { cause?: unknown }).cause) {
    if (e instanceof BlockedWebhookTarget) return e;
  }
  return undefined;
}

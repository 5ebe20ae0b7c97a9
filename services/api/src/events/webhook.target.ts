import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import ipaddr from 'ipaddr.js';
import { Agent } from 'undici';

/** A webhook whose host is (or resolves to) an address Conveyor must not call on a tenant's behalf. */
export class BlockedWebhookTarget extends Error {
  readonly code = 'EBLOCKEDTARGET';
  constructor(host: string, address: string) {
    super(`webhook target ${host} is ${address}, a private, loopback, link-local or reserved address`);
    this.name = 'BlockedWebhookTarget';
  }
}

/**
 * Only global unicast addresses are public; everything else (loopback, RFC 1918, link-local
 * cloud metadata at 169.254.169.254, CGNAT, unique-local IPv6, IPv4-mapped forms of all of these)
 * is a server-side request forgery target when a tenant chooses the URL.
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  return ipaddr.process(address).range() === 'unicast';
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A dns.lookup that drops non-public answers, used by the connection itself: the address checked
 * is the address dialled, so a name that resolves differently a second later (DNS rebinding)
 * cannot slip through.
 */
function publicOnlyLookup(hostname: string, options: LookupOptions, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, []);
    const allowed = addresses.filter((a) => isPublicAddress(a.address));
    if (allowed.length === 0) return callback(new BlockedWebhookTarget(hostname, addresses[0]?.address ?? 'unresolvable'), []);
    if (options.all) return callback(null, allowed);
    callback(null, allowed[0]!.address, allowed[0]!.family);
  });
}

/** Refuses an IP literal outside the public range before any connection (no lookup happens for those). */
export function assertPublicHost(url: URL): void {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (ipaddr.isValid(host) && !isPublicAddress(host)) throw new BlockedWebhookTarget(url.hostname, host);
}

/** The connection pool webhooks go through when private networks are not allowed: public addresses only. */
export function webhookDispatcher(): Agent {
  return new Agent({ connect: { lookup: publicOnlyLookup } });
}

/** The blocked-target error inside whatever fetch wrapped it in. */
export function blockedTargetOf(error: unknown): BlockedWebhookTarget | undefined {
  for (let e = error; e; e = (e as { cause?: unknown }).cause) {
    if (e instanceof BlockedWebhookTarget) return e;
  }
  return undefined;
}

import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP, isIPv4 } from 'node:net';
import { SsrfBlockedError } from './errors.js';

export interface ResolvedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

/** Resolves a host name to all its addresses; injected so tests never touch DNS. */
export type LookupFn = (hostname: string) => Promise<readonly ResolvedAddress[]>;

export const systemLookup: LookupFn = async (hostname) => {
  const results = await dnsLookup(hostname, { all: true, verbatim: true });
  return results.map((r) => ({ address: r.address, family: r.family === 6 ? 6 : 4 }));
};

interface Range {
  readonly network: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
  readonly label: string;
}

/**
 * Addresses a source may not reach unless it sets allowPrivateNetwork. Anything
 * that is not ordinary public unicast: loopback, private, link-local (where the
 * instance metadata service lives), shared, documentation, multicast, reserved.
 *
 * IPv6 forms that carry an IPv4 address, decided one by one:
 * - IPv4-mapped `::ffff:0:0/96` and NAT64 well-known `64:ff9b::/96` are decoded
 *   and checked as the IPv4 address they carry (`embeddedIPv4`), since both are
 *   in real use (dual-stack resolvers; DNS64 + NAT64 in IPv6-only subnets) and
 *   their IPv4 part is at a fixed place.
 * - Everything else is refused outright: IPv4-compatible `::/96` (deprecated),
 *   IPv4-translated `::ffff:0:0:0/96` (SIIT, never a destination a source names),
 *   NAT64 local-use `64:ff9b:1::/48` (the operator picks what it translates to and
 *   where the IPv4 part sits), 6to4 `2002::/16` (deprecated, RFC 7526; reached
 *   through relays) and Teredo `2001::/32` (a tunnel; its IPv4 parts are the
 *   relay's and an obfuscated client's). No public web server needs these.
 * - Last, anything outside global unicast `2000::/3` is refused, so a range not
 *   named here (all of `::/8` included) is not let through by omission.
 */
const BLOCKED_RANGES: readonly Range[] = [
  { network: '0.0.0.0', prefix: 8, family: 'ipv4', label: '"this network" / unspecified' },
  { network: '10.0.0.0', prefix: 8, family: 'ipv4', label: 'private' },
  { network: '100.64.0.0', prefix: 10, family: 'ipv4', label: 'shared address space' },
  { network: '127.0.0.0', prefix: 8, family: 'ipv4', label: 'loopback' },
  { network: '169.254.0.0', prefix: 16, family: 'ipv4', label: 'link-local / metadata' },
  { network: '172.16.0.0', prefix: 12, family: 'ipv4', label: 'private' },
  { network: '192.0.0.0', prefix: 24, family: 'ipv4', label: 'IETF protocol assignments' },
  { network: '192.0.2.0', prefix: 24, family: 'ipv4', label: 'documentation' },
  { network: '192.88.99.0', prefix: 24, family: 'ipv4', label: '6to4 relay' },
  { network: '192.168.0.0', prefix: 16, family: 'ipv4', label: 'private' },
  { network: '198.18.0.0', prefix: 15, family: 'ipv4', label: 'benchmarking' },
  { network: '198.51.100.0', prefix: 24, family: 'ipv4', label: 'documentation' },
  { network: '203.0.113.0', prefix: 24, family: 'ipv4', label: 'documentation' },
  { network: '224.0.0.0', prefix: 4, family: 'ipv4', label: 'multicast' },
  { network: '240.0.0.0', prefix: 4, family: 'ipv4', label: 'reserved / broadcast' },
  { network: '::1', prefix: 128, family: 'ipv6', label: 'loopback' },
  { network: '::', prefix: 128, family: 'ipv6', label: 'unspecified' },
  // ::/96 also holds the unspecified address, loopback and the deprecated IPv4-compatible form.
  { network: '::', prefix: 96, family: 'ipv6', label: 'IPv4-compatible (deprecated)' },
  { network: '::ffff:0:0:0', prefix: 96, family: 'ipv6', label: 'IPv4-translated (SIIT)' },
  { network: '64:ff9b:1::', prefix: 48, family: 'ipv6', label: 'NAT64 local-use' },
  { network: '100::', prefix: 64, family: 'ipv6', label: 'discard' },
  { network: '2001::', prefix: 32, family: 'ipv6', label: 'Teredo' },
  { network: '2001:2::', prefix: 48, family: 'ipv6', label: 'benchmarking' },
  { network: '2001:db8::', prefix: 32, family: 'ipv6', label: 'documentation' },
  { network: '2002::', prefix: 16, family: 'ipv6', label: '6to4' },
  { network: '3fff::', prefix: 20, family: 'ipv6', label: 'documentation' },
  // fd00:ec2::254 (the IPv6 instance metadata endpoint) is inside fc00::/7.
  { network: 'fc00::', prefix: 7, family: 'ipv6', label: 'unique local (private)' },
  { network: 'fe80::', prefix: 10, family: 'ipv6', label: 'link-local' },
  { network: 'fec0::', prefix: 10, family: 'ipv6', label: 'site-local (deprecated)' },
  { network: 'ff00::', prefix: 8, family: 'ipv6', label: 'multicast' },
  // The complement of 2000::/3, after the named ranges so their labels win.
  { network: '::', prefix: 3, family: 'ipv6', label: 'not global unicast' },
  { network: '4000::', prefix: 2, family: 'ipv6', label: 'not global unicast' },
  { network: '8000::', prefix: 1, family: 'ipv6', label: 'not global unicast' },
];

const blockLists = BLOCKED_RANGES.map((range) => {
  const list = new BlockList();
  list.addSubnet(range.network, range.prefix, range.family);
  return { list, range };
});

/** The 16 bytes of an IPv6 address, or undefined when `text` is not one. */
function ipv6Bytes(text: string): Uint8Array | undefined {
  if (isIP(text) !== 6) return undefined;
  let address = text.split('%')[0] ?? text;
  const tail: number[] = [];
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (dotted?.[1]) {
    tail.push(...dotted[1].split('.').map(Number));
    address = address.slice(0, -dotted[1].length);
    address = address.endsWith('::') ? address : address.replace(/:$/, '');
  }
  const [head = '', rest] = address.split('::');
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  const headGroups = groups(head);
  const restGroups = rest === undefined ? [] : groups(rest);
  const missing = 8 - tail.length / 2 - headGroups.length - restGroups.length;
  const all = [...headGroups, ...Array<string>(Math.max(0, missing)).fill('0'), ...restGroups];
  const bytes = new Uint8Array(16);
  all.forEach((group, i) => {
    const value = Number.parseInt(group, 16);
    bytes[i * 2] = value >> 8;
    bytes[i * 2 + 1] = value & 0xff;
  });
  tail.forEach((value, i) => {
    bytes[12 + i] = value;
  });
  return bytes;
}

/**
 * The IPv4 address an IPv6 address carries, for the two forms the guard decodes:
 * IPv4-mapped (`::ffff:a.b.c.d`) and the NAT64 well-known prefix
 * (`64:ff9b::a.b.c.d`). Other embedding forms are refused whole (BLOCKED_RANGES).
 */
export function embeddedIPv4(address: string): string | undefined {
  const bytes = ipv6Bytes(address);
  if (!bytes) return undefined;
  const prefix = Array.from(bytes.subarray(0, 12));
  const mapped = prefix.every((b, i) => (i < 10 ? b === 0 : b === 0xff));
  const nat64 =
    prefix[0] === 0x00 &&
    prefix[1] === 0x64 &&
    prefix[2] === 0xff &&
    prefix[3] === 0x9b &&
    prefix.slice(4).every((b) => b === 0);
  if (!mapped && !nat64) return undefined;
  return Array.from(bytes.subarray(12)).join('.');
}

export type AddressDecision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly range: string };

/** Whether a literal IP address is an ordinary public one the guard lets through. */
export function checkAddress(address: string): AddressDecision {
  const bare = address.replace(/^\[|\]$/g, '');
  const family = isIP(bare);
  if (family === 0) return { allowed: false, range: 'not an IP address' };
  const v4 = family === 6 ? embeddedIPv4(bare) : undefined;
  if (v4 !== undefined) return checkAddress(v4);
  const type = isIPv4(bare) ? 'ipv4' : 'ipv6';
  for (const { list, range } of blockLists) {
    if (range.family === type && list.check(bare, type))
      return { allowed: false, range: range.label };
  }
  return { allowed: true };
}

export interface GuardOptions {
  readonly sourceId: string;
  readonly lookup: LookupFn;
}

/**
 * Resolves `url`'s host and refuses it when any of its addresses is blocked
 * (a name with one public and one private record could otherwise be steered).
 * Returns the address to connect to, so the connection uses what was checked.
 */
export async function resolveGuarded(url: URL, options: GuardOptions): Promise<ResolvedAddress> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const literal = isIP(host);
  const addresses: readonly ResolvedAddress[] =
    literal === 0 ? await options.lookup(host) : [{ address: host, family: literal === 6 ? 6 : 4 }];
  const first = addresses[0];
  if (!first) throw new SsrfBlockedError(options.sourceId, host, '(none)', 'no address');
  for (const candidate of addresses) {
    const decision = checkAddress(candidate.address);
    if (!decision.allowed) {
      throw new SsrfBlockedError(options.sourceId, host, candidate.address, decision.range);
    }
  }
  return first;
}

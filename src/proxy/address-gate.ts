/**
 * The address gate (invariant I8) for passthrough requests and tunnels.
 *
 * A name is resolved once; every resolved address is checked against loopback,
 * private, link-local (cloud metadata), CGNAT, ULA, NAT64/6to4, multicast and
 * unspecified ranges (and their IPv4-mapped IPv6 forms), plus the sidecar's own
 * listeners and the vault. The caller then connects to the exact address checked,
 * never resolving a second time. Exceptions exist only for exact allow-listed hosts.
 */
import { BlockList, isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import { SidecarError } from '../errors.js';

const V4_BLOCKED: Array<[string, number]> = [
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8], // RFC 1918
  ['100.64.0.0', 10], // CGNAT, RFC 6598
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, incl. 169.254.169.254 metadata
  ['172.16.0.0', 12], // RFC 1918
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // TEST-NET-1
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // RFC 1918
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // TEST-NET-2
  ['203.0.113.0', 24], // TEST-NET-3
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, incl. broadcast
];

const V6_BLOCKED: Array<[string, number]> = [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['64:ff9b::', 96], // NAT64 well-known prefix
  ['64:ff9b:1::', 48], // NAT64 local-use
  ['100::', 64], // discard-only
  ['2001::', 23], // IETF protocol assignments (Teredo etc.)
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4
  ['fc00::', 7], // ULA, incl. fd00:ec2::254 (AWS metadata)
  ['fe80::', 10], // link-local
  ['fec0::', 10], // deprecated site-local
  ['ff00::', 8], // multicast
];

const BLOCKED = new BlockList();
for (const [a, p] of V4_BLOCKED) BLOCKED.addSubnet(a, p, 'ipv4');
for (const [a, p] of V6_BLOCKED) BLOCKED.addSubnet(a, p, 'ipv6');

/** The IPv4 address embedded in an IPv4-mapped (::ffff:a.b.c.d / ::ffff:xxxx:xxxx) or compatible IPv6 form. */
function embeddedV4(addr: string): string | null {
  const m = /^(?:0{0,4}:){0,5}(?:ffff:)?(\d+\.\d+\.\d+\.\d+)$/i.exec(addr);
  if (m) return m[1]!;
  const h = /^(?:0{0,4}:){0,5}ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(addr);
  if (h) {
    const hi = parseInt(h[1]!, 16);
    const lo = parseInt(h[2]!, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return null;
}

/** True when the address is in a range the gate refuses. */
export function isBlockedAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return BLOCKED.check(address, 'ipv4');
  if (family === 6) {
    const v4 = embeddedV4(address);
    if (v4 !== null) return BLOCKED.check(v4, 'ipv4');
    return BLOCKED.check(address, 'ipv6');
  }
  return true; // not an address at all: refuse
}

export interface GateOptions {
  /** When false, only the sidecar's own endpoints are refused (tests and private deployments). */
  readonly blockPrivate: boolean;
  /** `host:port` pairs the sidecar itself listens on, and the vault's. */
  readonly ownEndpoints: () => ReadonlyArray<{ host: string; port: number }>;
  /** Exact hosts exempt from the private-range check (allow-listed in config). */
  readonly exemptHosts?: ReadonlySet<string>;
  readonly resolve?: (host: string) => Promise<Array<{ address: string; family: number }>>;
}

export interface CheckedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

/**
 * Resolve `host` once and check every address. Returns the address to dial, or throws
 * ADDRESS_BLOCKED. One bad address refuses the whole name (DNS rebinding answers mix them).
 */
export async function checkDestination(host: string, port: number, opts: GateOptions): Promise<CheckedAddress> {
  const literal = isIP(host);
  const addrs = literal
    ? [{ address: host, family: literal }]
    : await (opts.resolve ?? defaultResolve)(host).catch((cause: unknown) => {
        throw new SidecarError('UPSTREAM_UNREACHABLE', { message: 'The destination name could not be resolved.', cause });
      });
  if (addrs.length === 0) throw new SidecarError('UPSTREAM_UNREACHABLE', { message: 'The destination name has no address.' });
  const exempt = opts.exemptHosts?.has(host) ?? false;
  const own = opts.ownEndpoints();
  for (const a of addrs) {
    for (const e of own) {
      if (e.port === port && (sameAddress(e.host, a.address) || isUnspecified(e.host))) {
        throw new SidecarError('ADDRESS_BLOCKED', { message: "The destination is one of the sidecar's own listeners or the vault." });
      }
    }
    if (opts.blockPrivate && !exempt && isBlockedAddress(a.address)) {
      throw new SidecarError('ADDRESS_BLOCKED');
    }
  }
  const first = addrs[0]!;
  return { address: first.address, family: first.family === 6 ? 6 : 4 };
}

function defaultResolve(host: string): Promise<Array<{ address: string; family: number }>> {
  return lookup(host, { all: true, verbatim: true });
}

function sameAddress(a: string, b: string): boolean {
  if (a === b) return true;
  const loop = (x: string): boolean => x === 'localhost' || x === '::1' || x.startsWith('127.');
  return loop(a) && loop(b);
}

function isUnspecified(h: string): boolean {
  return h === '0.0.0.0' || h === '::';
}

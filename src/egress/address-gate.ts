/**
 * The address gate (invariant I8) for passthrough requests and tunnels.
 *
 * A name is resolved once; every resolved address is checked, and one bad address
 * refuses the whole name (DNS-rebinding answers mix them). The caller then dials one of
 * the exact addresses checked, never resolving a second time. Ranges are checked on the
 * numeric value, so every spelling of an address (IPv4-mapped, compressed or not) gets
 * the same answer.
 *
 * Exemptions, stated once:
 * - Cloud metadata addresses and the sidecar's own listeners and vault are refused always.
 * - `egress.block_private_addresses: false` turns every other range check off.
 * - An **exact** host in `egress.allow` (never a `*.` wildcard) may resolve to loopback,
 *   private (RFC 1918), CGNAT, ULA, site-local or NAT64 addresses: an internal mirror
 *   named on purpose. It may never resolve to link-local, multicast, unspecified,
 *   documentation, 6to4/Teredo or other reserved addresses.
 */
import { isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import { networkInterfaces } from 'node:os';
import type { AllowEntry, Config, HostPort } from '../config/types.js';
import { SidecarError } from '../errors.js';
import { addressBytes, canonicalAddress, isMappedV4 } from './ip.js';

/** Why an address is refused: a bounded label for logs and tests. */
export type BlockReason =
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'cgnat'
  | 'link_local'
  | 'metadata'
  | 'ula'
  | 'site_local'
  | 'multicast'
  | 'broadcast'
  | 'reserved'
  | 'documentation'
  | 'benchmarking'
  | 'nat64'
  | '6to4'
  | 'teredo'
  | 'ipv4_compatible'
  | 'own_endpoint'
  | 'not_an_address';

/** Ranges an exact allow-listed host may deliberately resolve to. */
const EXEMPTABLE: ReadonlySet<BlockReason> = new Set(['loopback', 'private', 'cgnat', 'ula', 'site_local', 'nat64']);

type V4Range = readonly [base: number, bits: number, reason: BlockReason];

const v4 = (a: number, b: number, c: number, d: number): number => ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;

/** Most specific first: the first hit names the reason. */
const V4_RANGES: readonly V4Range[] = [
  [v4(169, 254, 169, 254), 32, 'metadata'], // AWS, GCP, Azure IMDS, OpenStack
  [v4(100, 100, 100, 200), 32, 'metadata'], // Alibaba Cloud
  [v4(168, 63, 129, 16), 32, 'metadata'], // Azure WireServer
  [v4(255, 255, 255, 255), 32, 'broadcast'],
  [v4(0, 0, 0, 0), 8, 'unspecified'], // "this network"; 0.0.0.0 dials loopback on Linux
  [v4(10, 0, 0, 0), 8, 'private'], // RFC 1918
  [v4(100, 64, 0, 0), 10, 'cgnat'], // RFC 6598
  [v4(127, 0, 0, 0), 8, 'loopback'],
  [v4(169, 254, 0, 0), 16, 'link_local'],
  [v4(172, 16, 0, 0), 12, 'private'],
  [v4(192, 0, 0, 0), 24, 'reserved'], // IETF protocol assignments
  [v4(192, 0, 2, 0), 24, 'documentation'],
  [v4(192, 88, 99, 0), 24, '6to4'], // 6to4 relay anycast
  [v4(192, 168, 0, 0), 16, 'private'],
  [v4(198, 18, 0, 0), 15, 'benchmarking'],
  [v4(198, 51, 100, 0), 24, 'documentation'],
  [v4(203, 0, 113, 0), 24, 'documentation'],
  [v4(224, 0, 0, 0), 4, 'multicast'],
  [v4(240, 0, 0, 0), 4, 'reserved'],
];

function classifyV4(b: Uint8Array): BlockReason | null {
  const n = v4(b[0]!, b[1]!, b[2]!, b[3]!);
  for (const [base, bits, reason] of V4_RANGES) {
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
    if ((n & mask) >>> 0 === base) return reason;
  }
  return null;
}

const AWS_METADATA_V6 = addressBytes('fd00:ec2::254')!;

function zeros(b: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (b[i] !== 0) return false;
  return true;
}

function classifyV6(b: Uint8Array): BlockReason | null {
  if (zeros(b, 0, 16)) return 'unspecified';
  if (zeros(b, 0, 15) && b[15] === 1) return 'loopback';
  // IPv4-mapped (::ffff:0:0/96): the embedded IPv4 address is what would be dialled.
  if (isMappedV4(b)) return classifyV4(b.subarray(12));
  if (zeros(b, 0, 12)) return 'ipv4_compatible'; // ::a.b.c.d, deprecated (RFC 4291 §2.5.5.1)
  if (zeros(b, 0, 8) && b[8] === 0xff && b[9] === 0xff && b[10] === 0 && b[11] === 0) return 'ipv4_compatible'; // SIIT
  if (Buffer.from(b).equals(AWS_METADATA_V6)) return 'metadata';
  const w0 = (b[0]! << 8) | b[1]!;
  const w1 = (b[2]! << 8) | b[3]!;
  const w2 = (b[4]! << 8) | b[5]!;
  if (w0 === 0x0064 && w1 === 0xff9b && (zeros(b, 4, 12) || w2 === 0x0001)) return 'nat64'; // 64:ff9b::/96, 64:ff9b:1::/48
  if (w0 === 0x0100 && zeros(b, 2, 8)) return 'reserved'; // discard-only 100::/64
  if (w0 === 0x2001 && w1 === 0x0000) return 'teredo'; // 2001::/32
  if (w0 === 0x2001 && w1 === 0x0db8) return 'documentation'; // 2001:db8::/32
  if (w0 === 0x2001 && w1 < 0x0200) return 'reserved'; // IETF protocol assignments 2001::/23
  if (w0 === 0x2002) return '6to4';
  if ((w0 & 0xfff0) === 0x3ff0) return 'documentation'; // 3fff::/20
  if ((w0 & 0xfe00) === 0xfc00) return 'ula'; // fc00::/7
  if ((w0 & 0xffc0) === 0xfe80) return 'link_local';
  if ((w0 & 0xffc0) === 0xfec0) return 'site_local';
  if ((w0 & 0xff00) === 0xff00) return 'multicast';
  if ((w0 & 0xe000) !== 0x2000) return 'reserved'; // outside global unicast 2000::/3
  return null;
}

/** The range an address falls in, or null when it may be dialled. */
export function classifyAddress(address: string): BlockReason | null {
  const b = addressBytes(address);
  if (b === null) return 'not_an_address';
  return b.length === 4 ? classifyV4(b) : classifyV6(b);
}

/** True when the address is in a range the gate refuses (before any exemption). */
export function isBlockedAddress(address: string): boolean {
  return classifyAddress(address) !== null;
}

/** The cause attached to ADDRESS_BLOCKED: which rule refused which address (for the log, never the agent). */
export class GateRefusal extends Error {
  override readonly name = 'GateRefusal';
  constructor(
    readonly reason: BlockReason,
    readonly address: string,
  ) {
    super(`${reason}: ${address}`);
  }
}

export interface GateOptions {
  /** When false, only metadata addresses and the sidecar's own endpoints are refused. */
  readonly blockPrivate: boolean;
  /** `host:port` pairs the sidecar itself listens on, and the vault's (addresses, resolved at start). */
  readonly ownEndpoints: () => ReadonlyArray<HostPort>;
  /** Exact hosts (from `egress.allow`) exempt from the private-range checks. */
  readonly exemptHosts?: ReadonlySet<string>;
  readonly resolve?: (host: string) => Promise<ReadonlyArray<{ address: string; family: number }>>;
  readonly resolveTimeoutMs?: number;
}

export interface CheckedAddress {
  readonly address: string;
  readonly family: 4 | 6;
  /** Every resolved address, all checked, in resolver order: dial these and nothing else. */
  readonly all: ReadonlyArray<{ readonly address: string; readonly family: 4 | 6 }>;
}

/**
 * Resolve `host` once and check every address. Returns the addresses to dial, or throws
 * ADDRESS_BLOCKED (cause: GateRefusal) or UPSTREAM_UNREACHABLE.
 */
export async function checkDestination(host: string, port: number, opts: GateOptions): Promise<CheckedAddress> {
  const literal = isIP(host);
  const addrs = literal !== 0 ? [{ address: host, family: literal }] : await resolveOnce(host, opts);
  if (addrs.length === 0) throw new SidecarError('UPSTREAM_UNREACHABLE', { message: 'The destination name has no address.' });
  const exempt = opts.exemptHosts?.has(host) ?? false;
  const own = opts.ownEndpoints();
  for (const a of addrs) {
    if (isOwnEndpoint(a.address, port, own)) {
      throw new SidecarError('ADDRESS_BLOCKED', {
        message: "The destination is one of the sidecar's own listeners or the vault.",
        cause: new GateRefusal('own_endpoint', a.address),
      });
    }
    const reason = classifyAddress(a.address);
    if (reason === null) continue;
    if (reason !== 'metadata' && (!opts.blockPrivate || (exempt && EXEMPTABLE.has(reason)))) continue;
    throw new SidecarError('ADDRESS_BLOCKED', { cause: new GateRefusal(reason, a.address) });
  }
  const all = addrs.map((a) => ({ address: a.address, family: a.family === 6 ? (6 as const) : (4 as const) }));
  return { ...all[0]!, all };
}

async function resolveOnce(host: string, opts: GateOptions): Promise<ReadonlyArray<{ address: string; family: number }>> {
  const resolve = opts.resolve ?? ((h: string) => lookup(h, { all: true, verbatim: true }));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('resolution timed out')), opts.resolveTimeoutMs ?? 5000);
  });
  try {
    return await Promise.race([resolve(host), timeout]);
  } catch (cause) {
    throw new SidecarError('UPSTREAM_UNREACHABLE', { message: 'The destination name could not be resolved.', cause });
  } finally {
    clearTimeout(timer);
  }
}

/** Loopback, unspecified, or an address of one of this machine's interfaces. */
function isLocal(canonical: string): boolean {
  const r = classifyAddress(canonical);
  if (r === 'loopback' || r === 'unspecified') return true;
  for (const list of Object.values(networkInterfaces())) {
    for (const i of list ?? []) if (canonicalAddress(i.address) === canonical) return true;
  }
  return false;
}

/**
 * Does dialling `address:port` reach one of `endpoints`? A listener on a loopback or
 * wildcard address answers on every local address, so local addresses compare equal.
 */
export function isOwnEndpoint(address: string, port: number, endpoints: ReadonlyArray<HostPort>): boolean {
  let a: string | null = null;
  for (const e of endpoints) {
    if (e.port !== port) continue;
    a ??= canonicalAddress(address);
    const h = canonicalAddress(e.host === 'localhost' ? '127.0.0.1' : e.host);
    if (h === a || (isLocal(h) && isLocal(a))) return true;
  }
  return false;
}

/** The addresses of an endpoint named in config (the vault's `tcp:` may be a name), resolved once at start. */
export async function resolveEndpoint(host: string, port: number): Promise<HostPort[]> {
  if (isIP(host) !== 0) return [{ host, port }];
  try {
    const addrs = await lookup(host, { all: true, verbatim: true });
    return [{ host, port }, ...addrs.map((a) => ({ host: a.address, port }))];
  } catch {
    return [{ host, port }];
  }
}

/** Gate options that follow the current config snapshot (block_private_addresses, exact allow-list). */
export function gateFor(config: () => Config, ownEndpoints: () => ReadonlyArray<HostPort>, resolve?: GateOptions['resolve']): GateOptions {
  const exact = new WeakMap<readonly AllowEntry[], ReadonlySet<string>>();
  return {
    get blockPrivate(): boolean {
      return config().egress.blockPrivateAddresses;
    },
    get exemptHosts(): ReadonlySet<string> {
      const allow = config().egress.allow;
      let s = exact.get(allow);
      if (s === undefined) {
        s = new Set(allow.filter((e) => !e.host.startsWith('*')).map((e) => e.host));
        exact.set(allow, s);
      }
      return s;
    },
    ownEndpoints,
    ...(resolve === undefined ? {} : { resolve }),
  };
}

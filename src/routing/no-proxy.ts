/**
 * `no_proxy` entries (routes.yaml `egress.no_proxy` and the sidecar's own NO_PROXY):
 * which destinations bypass the upstream (corporate) proxy and are dialled directly.
 *
 * The grammar is the one Go's net/http and curl share, so a NO_PROXY copied from a
 * shell means the same thing here:
 *   `*`                      every destination
 *   `example.com[:port]`     that host and every subdomain of it
 *   `.example.com`, `*.example.com`  subdomains only
 *   `10.1.2.3[:port]`, `[::1]:443`   that IP address
 *   `10.0.0.0/8`, `fd00::/8`         IP addresses in the range
 * Entries are matched against the destination as it was asked for: a CIDR matches
 * destinations written as IP addresses, never names (nothing is resolved to decide).
 * Nothing bypasses implicitly, loopback included (as in curl): list `localhost` and
 * `127.0.0.0/8` when local upstreams exist (`check` warns about loopback upstreams
 * that would go to the proxy, whose loopback is not the sidecar's).
 */
import { BlockList, isIP } from 'node:net';
import { HostSyntaxError, parsePort, splitHostPort } from './host.js';

export type NoProxyEntry =
  | { readonly kind: 'all' }
  /** A name: `subdomainsOnly` for `.x`/`*.x`, otherwise the name and its subdomains. */
  | { readonly kind: 'domain'; readonly domain: string; readonly subdomainsOnly: boolean; readonly port: number | undefined }
  | { readonly kind: 'ip'; readonly address: string; readonly port: number | undefined }
  | { readonly kind: 'cidr'; readonly network: string; readonly bits: number; readonly family: 4 | 6 };

/** Parse one entry; throws HostSyntaxError with a message for the person editing it (never echoing it). */
export function parseNoProxyEntry(raw: string): NoProxyEntry {
  const text = raw.trim().toLowerCase();
  if (text === '') throw new HostSyntaxError('the entry is empty');
  if (text === '*') return { kind: 'all' };
  if (text.includes('://')) throw new HostSyntaxError('must be a host, a .suffix or a CIDR, not a URL');
  if (text.includes('/')) return parseCidr(text);
  let body = text;
  let subdomainsOnly = false;
  if (body.startsWith('*.')) {
    body = body.slice(2);
    subdomainsOnly = true;
  } else if (body.startsWith('.')) {
    body = body.slice(1);
    subdomainsOnly = true;
  }
  if (body.includes('*')) throw new HostSyntaxError('a wildcard must be a whole leading label, as in *.example.com');
  // A bare IPv6 address has several colons and no port.
  const { host, port: rawPort } = isIP(body) === 6 ? { host: splitHostPort(`[${body}]`).host, port: undefined } : splitHostPort(body);
  const port = rawPort === undefined ? undefined : parsePort(rawPort);
  if (isIP(host) !== 0) {
    if (subdomainsOnly) throw new HostSyntaxError('a leading dot or wildcard cannot apply to an IP address');
    return { kind: 'ip', address: host, port };
  }
  return { kind: 'domain', domain: host, subdomainsOnly, port };
}

function parseCidr(text: string): NoProxyEntry {
  const slash = text.indexOf('/');
  const network = text.slice(0, slash);
  const bitsText = text.slice(slash + 1);
  const family = isIP(network);
  if (family === 0) throw new HostSyntaxError('a CIDR must start with an IP address, as in 10.0.0.0/8');
  const max = family === 4 ? 32 : 128;
  if (!/^(0|[1-9][0-9]{0,2})$/.test(bitsText) || Number(bitsText) > max) {
    throw new HostSyntaxError(`the prefix length after "/" must be 0 to ${max}`);
  }
  return { kind: 'cidr', network, bits: Number(bitsText), family: family === 4 ? 4 : 6 };
}

/** The entry written back in its canonical form (for `check` output and summaries). */
export function formatNoProxyEntry(e: NoProxyEntry): string {
  switch (e.kind) {
    case 'all':
      return '*';
    case 'domain':
      return `${e.subdomainsOnly ? '.' : ''}${e.domain}${e.port === undefined ? '' : `:${e.port}`}`;
    case 'ip':
      return e.port === undefined ? e.address : `${e.address.includes(':') ? `[${e.address}]` : e.address}:${e.port}`;
    case 'cidr':
      return `${e.network}/${e.bits}`;
  }
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** A loopback destination (for the `check` warning: through a remote proxy it would reach the proxy's own host). */
export function isLoopbackDestination(host: string): boolean {
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  const family = isIP(host);
  return family !== 0 && LOOPBACK.check(host, family === 4 ? 'ipv4' : 'ipv6');
}

/** One BlockList per entry list (entries are frozen config; the list is built once). */
const ranges = new WeakMap<readonly NoProxyEntry[], BlockList>();

function rangesOf(entries: readonly NoProxyEntry[]): BlockList {
  let list = ranges.get(entries);
  if (list === undefined) {
    list = new BlockList();
    for (const e of entries) if (e.kind === 'cidr') list.addSubnet(e.network, e.bits, e.family === 4 ? 'ipv4' : 'ipv6');
    ranges.set(entries, list);
  }
  return list;
}

/**
 * Does `host:port` (a canonical host from the routing grammar: lowercase, IPv6 without
 * brackets) bypass the upstream proxy?
 */
export function bypassesProxy(entries: readonly NoProxyEntry[], host: string, port: number): boolean {
  const family = isIP(host);
  for (const e of entries) {
    switch (e.kind) {
      case 'all':
        return true;
      case 'ip':
        if (family !== 0 && e.address === host && (e.port === undefined || e.port === port)) return true;
        break;
      case 'domain':
        if (family === 0 && (e.port === undefined || e.port === port)) {
          if (host.endsWith(`.${e.domain}`) || (!e.subdomainsOnly && host === e.domain)) return true;
        }
        break;
      case 'cidr':
        break;
    }
  }
  return family !== 0 && rangesOf(entries).check(host, family === 4 ? 'ipv4' : 'ipv6');
}


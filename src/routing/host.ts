/**
 * The host and port grammar (invariants I1–I2), shared by every request form and by
 * the config loader so that a host means the same thing in routes.yaml and on the wire.
 *
 * The grammar is deliberately narrower than WHATWG URL: anything that URL would rewrite
 * (numeric IPv4 shorthands, percent-escapes, full-width or other non-ASCII characters,
 * non-canonical IPv6) is refused rather than normalised, so the host we match is the
 * host a client library would dial. Failures throw `HostSyntaxError` with a message
 * that never echoes the input; callers wrap it in their own error type.
 */
import { domainToASCII } from 'node:url';
import { isIPv6 } from 'node:net';
import { idnaHostProblem, toUnicodeHost } from './idna.js';

/** A refused host or port. The message is safe to show and says which rule failed. */
export class HostSyntaxError extends Error {
  override readonly name = 'HostSyntaxError';
}

const MAX_HOST = 253;
const MAX_LABEL = 63;
const DIGITS = /^[0-9]+$/;
const HEXISH = /^0x[0-9a-f]*$/;
const DEC_OCTET = /^(?:0|[1-9][0-9]{0,2})$/;
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$/;

/**
 * Normalise a bare host (no brackets, no port): lowercase ASCII, one trailing dot
 * dropped. A host whose last label is numeric or hex-like is an IPv4 literal and must
 * be canonical dotted-quad decimal (`127.1`, `0x7f.0.0.1`, `2130706433`, `0177.0.0.1`
 * are all refused, because WHATWG URL would silently turn them into 127.0.0.1).
 */
export function normalizeHostName(raw: string): string {
  const known = accepted.get(raw);
  if (known !== undefined) return known;
  const host = checkHostName(raw);
  // Bounded: a stream of distinct hosts can only make it start over, never grow.
  if (accepted.size >= ACCEPTED_MAX) accepted.clear();
  accepted.set(raw, host);
  return host;
}

/**
 * Hosts this process has already accepted, raw spelling → normal form. Every request
 * runs its host through the grammar and an agent calls the same few hosts again and
 * again; the rules are pure, so an accepted spelling is accepted the same way next time.
 * Refused spellings are never remembered: they throw every time.
 */
const accepted = new Map<string, string>();
const ACCEPTED_MAX = 1024;

function checkHostName(raw: string): string {
  if (raw.length === 0) throw new HostSyntaxError('the host is empty');
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c > 0x7e) throw new HostSyntaxError('the host contains non-ASCII characters; IDN hosts must be written in punycode (xn--)');
    if (c === 0x25) throw new HostSyntaxError('the host contains a percent-escape');
    if (c === 0x5c) throw new HostSyntaxError('the host contains a backslash');
    if (c === 0x40) throw new HostSyntaxError('the host contains userinfo (@)');
    if (c <= 0x20 || c === 0x7f) throw new HostSyntaxError('the host contains a space or control character');
  }
  let host = raw.toLowerCase();
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (host.length === 0 || host.length > MAX_HOST) throw new HostSyntaxError('the host is empty or too long');
  if (host.endsWith('.')) throw new HostSyntaxError('the host ends with more than one dot');
  const labels = host.split('.');
  const last = labels[labels.length - 1] ?? '';
  if (DIGITS.test(last) || HEXISH.test(last)) {
    if (!isCanonicalIPv4(labels)) {
      throw new HostSyntaxError('the host is not a canonical IPv4 address (dotted-quad decimal without leading zeros)');
    }
    return host;
  }
  for (const label of labels) {
    if (label.length === 0) throw new HostSyntaxError('the host has an empty label');
    if (label.length > MAX_LABEL) throw new HostSyntaxError('a host label is longer than 63 characters');
    if (!LABEL.test(label)) throw new HostSyntaxError('the host contains characters outside a-z, 0-9, "-", "_" and "."');
  }
  if (host.includes('xn--')) {
    // Our own IDNA rules (idna.ts), never a URL parser's leniency: those differ by runtime
    // (Node 24's URL passes any xn-- label through, Node 20's refused some).
    const problem = idnaHostProblem(labels);
    if (problem) throw new HostSyntaxError(problem);
    // Backstop, never the only check: the runtime's UTS #46 processing of the Unicode form
    // must give back exactly this host, so no client or resolver on it reads another name.
    if (domainToASCII(toUnicodeHost(labels)) !== host) {
      throw new HostSyntaxError('the host has a punycode (xn--) label that this runtime\'s IDNA processing does not map back to itself');
    }
  }
  return host;
}

function isCanonicalIPv4(labels: readonly string[]): boolean {
  if (labels.length !== 4) return false;
  for (const part of labels) {
    if (!DEC_OCTET.test(part) || Number(part) > 255) return false;
  }
  return true;
}

/**
 * Validate the inside of `[...]`: an IPv6 literal without zone id, in the canonical
 * RFC 5952 form WHATWG URL serialises to (lowercase, `::` compression, no embedded
 * dotted IPv4). Returns it without brackets.
 */
export function normalizeIPv6(inner: string): string {
  if (inner.includes('%')) throw new HostSyntaxError('IPv6 zone identifiers are not allowed');
  const lower = inner.toLowerCase();
  if (!isIPv6(lower)) throw new HostSyntaxError('the bracketed host is not an IPv6 address');
  if (canonicalIPv6(lower) !== lower) throw new HostSyntaxError('the IPv6 address is not in canonical form (RFC 5952)');
  return lower;
}

/**
 * RFC 5952 §4 text form of an address `isIPv6` accepted: lowercase hex without leading
 * zeros, the longest run (first on a tie) of two or more zero groups as `::`. An embedded
 * dotted IPv4 part has no canonical form here (WHATWG URL serialises it as hex): undefined.
 */
function canonicalIPv6(addr: string): string | undefined {
  if (addr.includes('.')) return undefined;
  const halves = addr.split('::');
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length > 1 && halves[1] ? halves[1].split(':') : [];
  const fill = halves.length > 1 ? 8 - head.length - tail.length : 0;
  const groups = [...head, ...Array<string>(fill).fill('0'), ...tail].map((g) => parseInt(g, 16));
  if (groups.length !== 8) return undefined;
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** Strict port: decimal 1–65535, no sign, no leading zeros (0 only when `allowZero`). */
export function parsePort(raw: string, allowZero = false): number {
  if (raw === '0' && allowZero) return 0;
  if (!/^[1-9][0-9]{0,4}$/.test(raw)) throw new HostSyntaxError('the port must be a decimal number from 1 to 65535');
  const port = Number(raw);
  if (port > 65535) throw new HostSyntaxError('the port must be a decimal number from 1 to 65535');
  return port;
}

/**
 * Split `host[:port]` or `[v6][:port]`. `port` is undefined when absent; an empty port
 * (`host:`) is refused because WHATWG would quietly substitute the default.
 */
export function splitHostPort(authority: string): { host: string; port: string | undefined } {
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close < 0) throw new HostSyntaxError('the IPv6 literal has no closing bracket');
    const host = normalizeIPv6(authority.slice(1, close));
    const after = authority.slice(close + 1);
    if (after === '') return { host, port: undefined };
    if (!after.startsWith(':')) throw new HostSyntaxError('unexpected characters after the IPv6 literal');
    return { host, port: after.slice(1) };
  }
  if (authority.includes('[') || authority.includes(']')) throw new HostSyntaxError('IPv6 literals must be bracketed');
  const colon = authority.indexOf(':');
  if (colon < 0) return { host: normalizeHostName(authority), port: undefined };
  if (authority.indexOf(':', colon + 1) >= 0) throw new HostSyntaxError('IPv6 literals must be bracketed');
  return { host: normalizeHostName(authority.slice(0, colon)), port: authority.slice(colon + 1) };
}

/** Parse a full authority; `defaultPort` applies when no port is given (undefined: a port is required). */
export function parseAuthority(authority: string, defaultPort: number | undefined, allowZeroPort = false): { host: string; port: number } {
  if (authority.length === 0) throw new HostSyntaxError('the host is empty');
  if (authority.includes('@')) throw new HostSyntaxError('userinfo (user@) in the authority is not allowed');
  const { host, port } = splitHostPort(authority);
  if (port === undefined) {
    if (defaultPort === undefined) throw new HostSyntaxError('a port is required (host:port)');
    return { host, port: defaultPort };
  }
  return { host, port: parsePort(port, allowZeroPort) };
}

/** `host` or `[v6]` as it appears in a URL authority. */
export function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

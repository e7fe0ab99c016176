/**
 * Hosts, addresses and upstream URLs as written in routes.yaml, checked with the same
 * grammar the request path uses (routing/host.ts, routing/target.ts), so a host in the
 * config is spelt exactly as a canonical request target would spell it. Functions
 * return either a value or a message written for the person editing the file.
 */
import { HostSyntaxError, hostForUrl, normalizeHostName, normalizeIPv6, parseAuthority } from '../routing/host.js';
import { defaultPort, parseAbsoluteTarget } from '../routing/target.js';
import { SidecarError } from '../errors.js';
import type { AllowEntry, HostPort, Upstream } from './types.js';

export type Checked<T> = { ok: true; value: T } | { ok: false; message: string };

const ok = <T>(value: T): Checked<T> => ({ ok: true, value });
const fail = <T>(message: string): Checked<T> => ({ ok: false, message });

const NON_ASCII = /[^\x00-\x7f]/;

/**
 * A bare host for `match.host` or `egress.allow`: lowercased, one trailing dot dropped,
 * ASCII only. `*.suffix` is allowed when `wildcard` is true; the suffix needs at least
 * `minWildcardLabels` labels (so `*.com` cannot carry a credential to every .com host).
 */
export function checkConfigHost(raw: string, wildcard: boolean, minWildcardLabels = 2): Checked<string> {
  if (raw.includes('://')) {
    return fail('must be a bare host name, not a URL: drop the scheme (e.g. api.openai.com, not https://api.openai.com); the scheme and port belong in upstream');
  }
  if (NON_ASCII.test(raw)) {
    return fail('must be ASCII: write an international domain name in its punycode form (xn--...)');
  }
  if (raw.includes('/')) return fail('must be a bare host name without a path; path patterns go in match.path');
  if (raw.includes('@')) return fail('must be a bare host name without userinfo (@)');
  const isV6 = raw.startsWith('[') || (raw.match(/:/g)?.length ?? 0) > 1;
  if (!isV6 && raw.includes(':')) return fail('must be a bare host name without a port; the port belongs in upstream');
  let body = raw;
  let prefix = '';
  if (raw.startsWith('*.')) {
    if (!wildcard) return fail('a wildcard host is not allowed here');
    body = raw.slice(2);
    prefix = '*.';
  } else if (raw.includes('*')) {
    return fail('a wildcard must be a whole leading label, as in *.example.com');
  }
  try {
    let host: string;
    if (isV6) {
      if (prefix) return fail('a wildcard cannot apply to an IP address');
      host = normalizeIPv6(raw.startsWith('[') && raw.endsWith(']') ? raw.slice(1, -1) : raw);
    } else {
      host = normalizeHostName(body);
    }
    if (prefix) {
      if (/^[0-9.]+$/.test(host)) return fail('a wildcard cannot apply to an IP address');
      if (host.split('.').length < minWildcardLabels) {
        return fail(`a wildcard needs at least ${minWildcardLabels} labels after "*." (e.g. *.example.com)`);
      }
    }
    return ok(prefix + host);
  } catch (err) {
    if (err instanceof HostSyntaxError) return fail(`is not a valid host: ${err.message}`);
    throw err;
  }
}

/**
 * An `egress.allow` entry: a host as `checkConfigHost` takes it (wildcards with one label
 * after `*.` allowed), optionally followed by `:port` (`[v6]:port` for IPv6 literals).
 */
export function checkAllowEntry(raw: string): Checked<AllowEntry> {
  let hostText = raw;
  let port: number | undefined;
  const m = /^(\[[^\]]*\]|[^:]*):([0-9]+)$/.exec(raw);
  if (m !== null) {
    hostText = m[1]!;
    const n = Number(m[2]);
    if (!/^[1-9][0-9]{0,4}$/.test(m[2]!) || n > 65535) return fail('has a port outside 1-65535 (write host:port, e.g. pypi.org:443)');
    port = n;
  } else if (/^[^:[]*:[^:]*$/.test(raw)) {
    return fail('has a malformed port (write host:port, e.g. pypi.org:8443)');
  }
  const host = checkConfigHost(hostText, true, 1);
  return host.ok ? ok({ host: host.value, port }) : host;
}

/** An allow entry as the user would write it (summaries, messages). */
export function allowEntryText(e: AllowEntry): string {
  if (e.port === undefined) return e.host;
  return `${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port}`;
}

/** `host:port` for listeners and the vault's TCP address. `allowZero` lets tests ask for an ephemeral port. */
export function checkAddress(raw: string, allowZero: boolean): Checked<HostPort> {
  if (raw.includes('://')) return fail('must be host:port (e.g. 127.0.0.1:8080), not a URL');
  try {
    return ok(parseAuthority(raw, undefined, allowZero));
  } catch (err) {
    if (err instanceof HostSyntaxError) return fail(`must be host:port (e.g. 127.0.0.1:8080): ${err.message}`);
    throw err;
  }
}

/**
 * An upstream URL: `http(s)://host[:port][/base/path]`, no userinfo, query or fragment.
 * Parsed with the request-target parser itself, so upstreams obey the same grammar.
 * A trailing slash on the base path is dropped (`https://x.test/v1/` = `/v1`).
 */
export function checkUpstream(raw: string): Checked<Upstream> {
  if (NON_ASCII.test(raw)) return fail('must be ASCII: write an international domain name in punycode (xn--...)');
  if (!/^https?:\/\//i.test(raw)) return fail('must be an http:// or https:// URL');
  if (raw.includes('?')) return fail('must not contain a query (?)');
  if (raw.includes('#')) return fail('must not contain a fragment (#)');
  let target;
  try {
    target = parseAbsoluteTarget(raw);
  } catch (err) {
    if (err instanceof SidecarError) return fail(`is not a valid URL: ${err.message.replace(/^Bad request target: /, '').replace(/\.$/, '')}`);
    throw err;
  }
  const { scheme, host, port } = target;
  const basePath = target.path === '/' ? '' : target.path.replace(/\/$/, '');
  const authority = `${hostForUrl(host)}${port === defaultPort(scheme) ? '' : `:${port}`}`;
  return ok({ scheme, host, port, basePath, origin: `${scheme}://${authority}`, authority });
}

/**
 * Request-target parsing for every request form (invariant I1: one parser, one
 * canonical target). Each function takes the agent's raw bytes as Node handed them
 * over and returns the canonical pieces, or throws `SidecarError('BAD_TARGET')` with a
 * specific, safe message (never echoing the input). Nothing here repairs input (I2):
 * ambiguity is refused before any route is matched or any vault call is made.
 */
import { SidecarError } from '../errors.js';
import { HostSyntaxError, parseAuthority } from './host.js';
import { checkPath, checkQuery } from './path.js';
import type { Target } from './types.js';

const DEFAULT_PORT = { http: 80, https: 443 } as const;

function bad(message: string): SidecarError {
  return new SidecarError('BAD_TARGET', { message: `Bad request target: ${message}.` });
}

function hostPort(authority: string, defaultPort: number | undefined, what: string): { host: string; port: number } {
  try {
    return parseAuthority(authority, defaultPort);
  } catch (err) {
    if (err instanceof HostSyntaxError) throw bad(`${what}: ${err.message}`);
    throw err;
  }
}

/** Split `path?query` and validate both; `raw` must already start with '/'. */
function pathAndQuery(raw: string): { path: string; query: string } {
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const query = q < 0 ? '' : raw.slice(q);
  const pathProblem = checkPath(path);
  if (pathProblem) throw bad(pathProblem);
  const queryProblem = checkQuery(query);
  if (queryProblem) throw bad(queryProblem);
  return { path, query };
}

/**
 * Parse an absolute-form request-target (`http://host[:port]/path?query`), as sent to
 * an HTTP proxy. Only `http` and `https`; the authority must be a plain host (no
 * userinfo, no percent-escapes, canonical IP literals only) and the path must pass
 * the strict grammar in `path.ts`. An empty path becomes '/'.
 */
export function parseAbsoluteTarget(rawUrl: string): Target {
  if (rawUrl.includes('#')) throw bad('fragments (#) are not allowed');
  if (rawUrl.includes('\\')) throw bad('backslashes are not allowed');
  const sep = rawUrl.indexOf('://');
  const schemeText = sep < 0 ? '' : rawUrl.slice(0, sep).toLowerCase();
  if (schemeText !== 'http' && schemeText !== 'https') throw bad('only http:// and https:// targets are accepted');
  const scheme: 'http' | 'https' = schemeText;
  const rest = rawUrl.slice(sep + 3);
  let end = rest.length;
  for (let i = 0; i < rest.length; i++) {
    const c = rest.charCodeAt(i);
    if (c === 0x2f || c === 0x3f) {
      end = i;
      break;
    }
  }
  const authority = rest.slice(0, end);
  if (authority.includes('@')) throw bad('userinfo (user@) in the authority is not allowed');
  const { host, port } = hostPort(authority, DEFAULT_PORT[scheme], 'host');
  const tail = rest.slice(end);
  const { path, query } = pathAndQuery(tail.startsWith('/') ? tail : `/${tail}`);
  return { scheme, host, port, path, query };
}

/**
 * Parse an origin-form request-target (`/openai/v1/chat?x=1`) for the prefix and
 * host-header forms. It must start with exactly one '/': `//evil.test/x` would be read
 * as an authority by `new URL(x, base)` and friends, and `*` (OPTIONS) is not a path.
 */
export function parseOriginTarget(rawUrl: string): { path: string; query: string } {
  if (!rawUrl.startsWith('/')) throw bad('an origin-form target must start with "/"');
  if (rawUrl.startsWith('//')) throw bad('the path must not start with "//"');
  if (rawUrl.includes('#')) throw bad('fragments (#) are not allowed');
  return pathAndQuery(rawUrl);
}

/** Parse a `Host` header value (`host[:port]` or `[v6][:port]`); the port defaults from the scheme. */
export function parseHostHeader(host: string, scheme: 'http' | 'https'): { host: string; port: number } {
  return hostPort(host, DEFAULT_PORT[scheme], 'Host header');
}

/**
 * Parse a CONNECT authority-form target: `host:port` or `[v6]:port`, with the port
 * required and in 1–65535 (RFC 9110 §9.3.6). Same host rules as everywhere else.
 */
export function parseConnectAuthority(raw: string): { host: string; port: number } {
  return hostPort(raw, undefined, 'CONNECT target');
}

/**
 * Absolute-form requests carry the destination twice. Node and fastify would let
 * `Host: evil.example` ride along with `GET http://api.openai.com/...`, so when a Host
 * header is present it must name the same host and effective port as the target, or
 * the request is refused with HOST_MISMATCH. An absent Host (HTTP/1.0) is accepted.
 */
export function checkHostAgreement(target: Target, hostHeader: string | undefined): void {
  if (hostHeader === undefined) return;
  let parsed: { host: string; port: number };
  try {
    parsed = parseHostHeader(hostHeader, target.scheme);
  } catch {
    throw new SidecarError('HOST_MISMATCH', { message: 'The Host header is malformed and does not match the request target.' });
  }
  if (parsed.host !== target.host || parsed.port !== target.port) throw new SidecarError('HOST_MISMATCH');
}

/** The default port of a scheme. */
export function defaultPort(scheme: 'http' | 'https'): number {
  return DEFAULT_PORT[scheme];
}

/**
 * Path patterns and host patterns: their syntax, how they match, and how specific a
 * match is. The matcher uses this at request time and the config loader uses the same
 * definitions to reject ambiguous route tables, so "most specific wins" and "two
 * routes may not match the same request equally well" are one rule, written once.
 *
 * Path patterns:
 *   `/v1/models` exact: matches that path only.
 *   `/v1/*`      segment prefix: matches `/v1` and `/v1/...`, never `/v1x`.
 *   `/*`         any path (also what an empty `paths` list means).
 * Rank: a longer literal wins; at equal length an exact pattern beats a prefix pattern.
 * Two patterns that can match the same path with the same rank are the same pattern.
 *
 * Host patterns: an exact host, or `*.example.com`, which matches one or more labels
 * in front of `example.com` (`a.example.com`, `a.b.example.com`) but not
 * `example.com` itself. Exact hosts beat wildcards; longer wildcard suffixes beat
 * shorter ones.
 */

export interface PathPattern {
  /** The pattern as written, for messages. */
  readonly source: string;
  /** Literal part: the whole path for exact patterns, the part before `/*` otherwise ('' for `/*`). */
  readonly literal: string;
  readonly exact: boolean;
  /** Higher is more specific. */
  readonly rank: number;
}

/** Segment-safe characters in config patterns and prefixes (unreserved plus a few sub-delims, ':' and '@'). */
const SEGMENT = /^[A-Za-z0-9\-._~!$&'()+,=:@]+$/;

/** The safe message for a bad pattern, or undefined. `*` is allowed only as a final `/*`. */
export function checkPathPattern(p: string): string | undefined {
  if (!p.startsWith('/')) return 'a path pattern must start with "/"';
  if (p === '/' || p === '/*') return undefined;
  // A prefix pattern's literal has no trailing slash; an exact pattern may end in one
  // (`/v1/models/` is a different path from `/v1/models`).
  if (p.endsWith('/*')) return checkSegments(p.slice(0, -2), 'a path pattern');
  return checkSegments(p.endsWith('/') ? p.slice(0, -1) : p, 'a path pattern');
}

/** The safe message for a bad `prefix`, or undefined: `/seg[/seg...]`, no trailing slash. */
export function checkPrefix(p: string): string | undefined {
  if (!p.startsWith('/')) return 'a prefix must start with "/"';
  if (p === '/') return 'a prefix must name at least one path segment (not "/")';
  if (p.endsWith('/')) return 'a prefix must not end with "/"';
  return checkSegments(p, 'a prefix');
}

function checkSegments(p: string, what: string): string | undefined {
  for (const seg of p.slice(1).split('/')) {
    if (seg === '') return `${what} must not contain "//"`;
    if (seg === '.' || seg === '..') return `${what} must not contain "." or ".." segments`;
    if (!SEGMENT.test(seg)) {
      return `${what} may contain only letters, digits and -._~!$&'()+,=:@ in segments, with "*" only as a final "/*"`;
    }
  }
  return undefined;
}

/** Compile a pattern that `checkPathPattern` accepted. */
export function compilePathPattern(source: string): PathPattern {
  if (source.endsWith('/*')) {
    const literal = source.slice(0, -2);
    return { source, literal, exact: false, rank: literal.length * 2 };
  }
  return { source, literal: source, exact: true, rank: source.length * 2 + 1 };
}

/** The pattern an empty `paths` list stands for. */
export const ANY_PATH: PathPattern = compilePathPattern('/*');

/** Does `pattern` match `path` (already in matching form)? Segment-boundary aware. */
export function pathMatches(pattern: PathPattern, path: string): boolean {
  if (pattern.exact) return path === pattern.literal;
  const lit = pattern.literal;
  if (lit.length === 0) return true;
  return path.startsWith(lit) && (path.length === lit.length || path.charCodeAt(lit.length) === 0x2f);
}

/** Does the `prefix` (no trailing slash) cover `path` on a segment boundary? */
export function prefixMatches(prefix: string, path: string): boolean {
  return path.startsWith(prefix) && (path.length === prefix.length || path.charCodeAt(prefix.length) === 0x2f);
}

/** True for `*.suffix` host patterns. */
export function isWildcardHost(host: string): boolean {
  return host.startsWith('*.');
}

/** Does host pattern `pattern` (exact or `*.suffix`) match the concrete host? */
export function hostMatches(pattern: string, host: string): boolean {
  if (!isWildcardHost(pattern)) return pattern === host;
  // `*.example.com` -> `.example.com`: one or more labels must precede it.
  const dotted = pattern.slice(1);
  return host.length > dotted.length && host.endsWith(dotted);
}

/** Do two method lists (uppercase; empty = any) share a method? */
export function methodsOverlap(a: readonly string[], b: readonly string[]): boolean {
  if (a.length === 0 || b.length === 0) return true;
  return a.some((m) => b.includes(m));
}

/*
 * Ports. A route without `match.port(s)` accepts the default port of the request's
 * scheme only (80 for http://, 443 for https://); a CONNECT, whose inner scheme is not
 * known yet, may name either (the request inside is matched again with its scheme).
 * With `match.ports` the route accepts exactly the ports listed, for either scheme.
 */

/** The default port of a scheme (RFC 9110 §4.2). */
export function schemeDefaultPort(scheme: 'http' | 'https'): number {
  return scheme === 'https' ? 443 : 80;
}

/** Does a route with `ports` accept a request for `scheme://host:port`? */
export function portMatches(ports: readonly number[], scheme: 'http' | 'https', port: number): boolean {
  return ports.length === 0 ? port === schemeDefaultPort(scheme) : ports.includes(port);
}

/** Does a route with `ports` accept `CONNECT host:port` (HTTP or TLS inside)? */
export function connectPortMatches(ports: readonly number[], port: number): boolean {
  return ports.length === 0 ? port === 80 || port === 443 : ports.includes(port);
}

/** Can one request be accepted by both port lists? (An empty list is {http:80, https:443}.) */
export function portsOverlap(a: readonly number[], b: readonly number[]): boolean {
  if (a.length === 0 && b.length === 0) return true;
  if (a.length === 0) return b.includes(80) || b.includes(443);
  if (b.length === 0) return a.includes(80) || a.includes(443);
  return a.some((p) => b.includes(p));
}

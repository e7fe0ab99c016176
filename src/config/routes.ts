/**
 * One wire route (already schema-valid) into a domain `Route`, with the per-route rules
 * the schema cannot express: host and prefix syntax, default upstream, the plaintext
 * and wildcard opt-ins (invariants I4, I7), header_name iff custom, delegate needs a
 * credential. Rules across routes (unique names, overlaps) live in overlap.ts.
 */
import { checkPathPattern, checkPrefix, isWildcardHost } from '../routing/pattern.js';
import type { InjectSpec, Route, RouteHeaders, RouteMatch, Upstream } from './types.js';
import type { Issues } from './context.js';
import { checkCredentialTemplate, convertRateLimit } from './agents.js';
import { checkConfigHost, checkUpstream } from './hosts.js';
import type { WireRoute } from './schema.js';
import type { Seg } from './yaml-doc.js';

export const ROUTE_DEFAULTS = {
  connectMs: 10_000,
  headersMs: 60_000,
  idleMs: 300_000,
  maxBodyBytes: 1024 * 1024,
} as const;

/** RFC 9110 §5.6.2 token, lowercase. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

/**
 * Headers a route may not inject: framing and hop-by-hop headers (RFC 9110 §7.6.1),
 * routing headers, and proxy credentials. Injecting one would corrupt the request or
 * undo the stripping the pipeline does (I6, I9).
 */
const FORBIDDEN_HEADERS = new Set([
  'host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer',
  'expect', 'proxy-authorization', 'proxy-authenticate', 'proxy-connection', 'cookie', 'forwarded',
  'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-http-method-override', 'x-original-url',
  'x-rewrite-url', 'x-sanctum-error',
]);

function convertMatch(issues: Issues, at: Seg[], w: WireRoute): RouteMatch {
  const m = w.match ?? {};
  let host: string | undefined;
  if (m.host !== undefined) {
    const checked = checkConfigHost(m.host, true);
    if (!checked.ok) issues.add([...at, 'match', 'host'], `match.host ${checked.message}`);
    else host = checked.value;
    if (host !== undefined && isWildcardHost(host) && w.allow_wildcard_host !== true) {
      issues.add([...at, 'match', 'host'], 'a wildcard host needs `allow_wildcard_host: true` on the route (credential routes name exact hosts unless you opt in)');
    }
  }
  if (m.path !== undefined && m.paths !== undefined) {
    issues.add([...at, 'match', 'paths'], 'give either match.path or match.paths, not both');
  }
  const paths = m.paths ?? (m.path !== undefined ? [m.path] : []);
  const key = m.paths !== undefined ? 'paths' : 'path';
  paths.forEach((p, i) => {
    const problem = checkPathPattern(p);
    const where = key === 'paths' ? [...at, 'match', 'paths', i] : [...at, 'match', 'path'];
    if (problem) issues.add(where, problem);
    else if (paths.indexOf(p) !== i) issues.add(where, `path pattern ${p} is listed twice`);
  });
  const methods = [...new Set((m.methods ?? []).map((x) => x.toUpperCase()))];
  if (m.port !== undefined && m.ports !== undefined) {
    issues.add([...at, 'match', 'ports'], 'give either match.port or match.ports, not both');
  }
  const ports = [...new Set(m.ports ?? (m.port !== undefined ? [m.port] : []))];
  if (ports.length > 0 && m.host === undefined) {
    issues.add([...at, 'match', m.ports !== undefined ? 'ports' : 'port'], 'match.port(s) applies to host-form requests and needs match.host (a prefix route is reached on the sidecar\'s own port)');
  }
  return { host, ports, paths, methods };
}

/** The header a route's credential travels in (lowercase), as the vault will return it. */
function injectedHeaderName(inject: InjectSpec): string | undefined {
  switch (inject.headerType) {
    case 'bearer':
    case 'basic':
      return 'authorization';
    case 'api_key':
      return 'x-api-key';
    case 'custom':
      return inject.headerName;
  }
}

/** Never set or removed by a route: the credential headers the pipeline owns (I6). */
const CREDENTIAL_HEADERS = new Set(['authorization', 'x-api-key', 'api-key']);

/** `headers: {set, remove}`: names lowercased, none that framing, routing or the credential depend on. */
function convertHeaders(issues: Issues, at: Seg[], w: WireRoute, inject: InjectSpec): RouteHeaders {
  const h = w.headers ?? {};
  const injected = injectedHeaderName(inject);
  const refuse = (name: string): string | undefined => {
    if (FORBIDDEN_HEADERS.has(name) || name.startsWith('x-sanctum-') || name.startsWith('x-forwarded-')) {
      return `${name}: it is a framing, hop-by-hop, routing or proxy header the sidecar owns`;
    }
    if (CREDENTIAL_HEADERS.has(name) || name === injected) return `${name}: it carries credentials (the sidecar strips the agent's copy and injects the vault's)`;
    return undefined;
  };
  const set: Array<readonly [string, string]> = [];
  for (const [raw, value] of Object.entries(h.set ?? {})) {
    const name = raw.toLowerCase();
    const problem = refuse(name);
    if (problem !== undefined) issues.add([...at, 'headers', 'set', raw], `headers.set may not name ${problem}`);
    else if (set.some(([n]) => n === name)) issues.add([...at, 'headers', 'set', raw], `headers.set names ${name} twice (header names are case-insensitive)`);
    else set.push([name, value.trim()]);
  }
  const remove: string[] = [];
  (h.remove ?? []).forEach((raw, i) => {
    const name = raw.toLowerCase();
    const problem = refuse(name);
    if (problem !== undefined) issues.add([...at, 'headers', 'remove', i], `headers.remove may not name ${problem}`);
    else if (set.some(([n]) => n === name)) issues.add([...at, 'headers', 'remove', i], `${name} is both set and removed; headers.set already replaces the agent's copy`);
    else if (!remove.includes(name)) remove.push(name);
  });
  return { set, remove };
}

function convertInject(issues: Issues, at: Seg[], w: WireRoute): InjectSpec {
  const headerType = w.inject?.header_type ?? 'bearer';
  const rawName = w.inject?.header_name;
  if (headerType !== 'custom') {
    if (rawName !== undefined) {
      issues.add([...at, 'inject', 'header_name'], `header_name applies only to header_type: custom (this route uses ${headerType})`);
    }
    return { headerType, headerName: undefined };
  }
  if (rawName === undefined) {
    issues.add([...at, 'inject', 'header_type'], 'header_type: custom needs inject.header_name (e.g. x-api-key)');
    return { headerType, headerName: undefined };
  }
  const headerName = rawName.toLowerCase();
  if (!TOKEN.test(headerName)) {
    issues.add([...at, 'inject', 'header_name'], 'header_name must be an HTTP header name (letters, digits and !#$%&\'*+.^_`|~-)');
  } else if (FORBIDDEN_HEADERS.has(headerName)) {
    issues.add([...at, 'inject', 'header_name'], `header_name may not be ${headerName}: it is a framing, hop-by-hop, routing or proxy header`);
  }
  return { headerType, headerName };
}

function convertUpstream(issues: Issues, at: Seg[], w: WireRoute, host: string | undefined): Upstream | undefined {
  if (w.upstream !== undefined) {
    const checked = checkUpstream(w.upstream);
    if (!checked.ok) {
      issues.add([...at, 'upstream'], `upstream ${checked.message}`);
      return undefined;
    }
    return checked.value;
  }
  if (host !== undefined && !isWildcardHost(host)) {
    const checked = checkUpstream(`https://${host.includes(':') ? `[${host}]` : host}`);
    return checked.ok ? checked.value : undefined;
  }
  // Already reported: a bad host, or a route with neither host nor prefix.
  if (host === undefined && (w.match?.host !== undefined || w.prefix === undefined)) return undefined;
  issues.add(
    [...at, 'upstream'],
    host === undefined
      ? '`upstream` is required for a route without match.host (a prefix route must say where it forwards)'
      : '`upstream` is required for a wildcard host: a credential goes to one fixed origin, never to whatever host was asked for',
  );
  return undefined;
}

/**
 * Convert route `index`. Returns undefined when the route has an issue that leaves no
 * sensible Route to cross-check (issues are always recorded in `issues`).
 */
export function convertRoute(issues: Issues, w: WireRoute, index: number): Route | undefined {
  const at: Seg[] = ['routes', index];
  const before = issues.list.length;
  const match = convertMatch(issues, at, w);
  let prefix: string | undefined;
  if (w.prefix !== undefined) {
    const problem = checkPrefix(w.prefix);
    if (problem) issues.add([...at, 'prefix'], problem);
    else prefix = w.prefix;
  }
  if (w.match?.host === undefined && w.prefix === undefined) {
    issues.add(at, `route ${w.name} needs match.host, prefix, or both (otherwise no request can reach it)`);
  }
  const upstream = convertUpstream(issues, at, w, match.host);
  const credential = w.credential ?? null;
  if (credential !== null) checkCredentialTemplate(issues, [...at, 'credential'], credential);
  const mode = w.mode ?? 'inject';
  if (mode === 'delegate' && credential === null) {
    issues.add([...at, 'mode'], 'mode: delegate needs a credential: the vault makes the request with it');
  }
  if (credential !== null && upstream?.scheme === 'http' && w.allow_plaintext !== true) {
    issues.add(
      [...at, 'upstream'],
      'this credential route forwards over plain http://; use an https:// upstream, or set `allow_plaintext: true` if you accept sending the credential unencrypted',
    );
  }
  const inject = convertInject(issues, at, w);
  const t = w.timeouts ?? {};
  const cacheTtlMs = issues.duration([...at, 'cache_ttl'], w.cache_ttl, 0);
  const timeouts = {
    connectMs: issues.duration([...at, 'timeouts', 'connect'], t.connect, ROUTE_DEFAULTS.connectMs),
    headersMs: issues.duration([...at, 'timeouts', 'headers'], t.headers, ROUTE_DEFAULTS.headersMs),
    idleMs: issues.duration([...at, 'timeouts', 'idle'], t.idle, ROUTE_DEFAULTS.idleMs),
  };
  const maxBodyBytes = issues.size([...at, 'max_body'], w.max_body, ROUTE_DEFAULTS.maxBodyBytes);
  const rateLimit = convertRateLimit(issues, [...at, 'rate_limit'], w.rate_limit);
  const headers = convertHeaders(issues, at, w, inject);
  if (w.response_guard !== undefined && w.response_guard !== 'off' && (credential === null || mode === 'delegate')) {
    issues.add(
      [...at, 'response_guard'],
      credential === null
        ? 'response_guard watches for the injected credential; this route has none (remove the key)'
        : 'response_guard cannot apply in delegate mode: the sidecar never sees the credential the vault uses (remove the key)',
    );
  }
  if (w.retry !== undefined && mode === 'delegate') {
    issues.add([...at, 'retry'], '`retry` applies to inject routes; in delegate mode the vault makes the request and decides about retries');
  }
  if (issues.list.length !== before || upstream === undefined) return undefined;
  return {
    name: w.name,
    match,
    prefix,
    upstream,
    credential,
    mode,
    inject,
    cacheTtlMs,
    allowPlaintext: w.allow_plaintext ?? false,
    ...(w.allow_plaintext_via_proxy === true ? { allowPlaintextViaProxy: true } : {}),
    allowWildcardHost: w.allow_wildcard_host ?? false,
    keepCookies: w.keep_cookies ?? false,
    timeouts,
    maxBodyBytes,
    line: issues.line(at),
    retryNonIdempotent: w.retry?.non_idempotent ?? false,
    // The guard looks for the header the sidecar injects; delegate and plain routes inject none.
    responseGuard: credential !== null && mode === 'inject' ? (w.response_guard ?? 'mask') : 'off',
    keepForwardingHeaders: w.keep_forwarding_headers ?? false,
    headers,
    ...(rateLimit === undefined ? {} : { rateLimit }),
  };
}

/**
 * The route table: compiled once per config snapshot, consulted once per request.
 * Owns the decision "which route, or passthrough, or deny" for every request form
 * (invariant I4: deny by default) and computes the upstream path (I3). Everything
 * that can be precomputed is: exact hosts sit in a Map, wildcard hosts and prefixes in
 * lists sorted most-specific-first, so a lookup is a Map get plus a short scan that
 * allocates nothing but the result (and a decoded copy of paths that contain '%').
 *
 * Precedence (see pattern.ts): exact host, then longer wildcard suffix; within a host,
 * the most specific path pattern; methods filter. Host-form path patterns apply to the
 * whole path; prefix-form patterns apply to the path after the prefix. The request's
 * port is part of a host-form match (pattern.ts, `portMatches`): a route accepts the
 * default port of the scheme unless it lists ports, and any other port is NO_ROUTE.
 * The dial always goes to the route's upstream, never to the port that was asked for.
 * Passthrough is per port too: an `egress.allow` entry without a port admits 80 for
 * plain HTTP and 443 for byte tunnels (`unmatched: passthrough` admits every port).
 */
import type { AllowEntry, EgressSettings, Route } from './route.js';
import { pathForMatching } from './path.js';
import {
  ANY_PATH,
  compilePathPattern,
  connectPortMatches,
  hostMatches,
  isWildcardHost,
  pathMatches,
  portMatches,
  prefixMatches,
  type PathPattern,
} from './pattern.js';
import type { MatchResult, Target } from './types.js';

interface Entry {
  readonly route: Route;
  readonly pattern: PathPattern;
  readonly methods: readonly string[];
  /** Sort key: higher is more specific. */
  readonly rank: number;
}

interface WildcardGroup {
  /** `.example.com` for `*.example.com`. */
  readonly dotted: string;
  readonly entries: readonly Entry[];
  readonly routes: readonly Route[];
}

interface PrefixEntry extends Entry {
  readonly prefix: string;
}

const NO_ROUTE: MatchResult = Object.freeze({ kind: 'deny', code: 'NO_ROUTE' });
const METHOD_DENIED: MatchResult = Object.freeze({ kind: 'deny', code: 'METHOD_DENIED' });
const PASSTHROUGH: MatchResult = Object.freeze({ kind: 'passthrough' });
const NO_ROUTES: readonly Route[] = Object.freeze([]);
const NO_ENTRIES: readonly AllowEntry[] = Object.freeze([]);

/** What a passthrough carries: plain HTTP (default port 80) or a CONNECT byte tunnel (443). */
export type PassthroughKind = 'http' | 'tunnel';

function allowAdmits(e: AllowEntry, port: number, kind: PassthroughKind): boolean {
  return e.port === undefined ? port === (kind === 'tunnel' ? 443 : 80) : port === e.port;
}

function entriesFor(route: Route, baseRank: number): Entry[] {
  const patterns = route.match.paths.length === 0 ? [ANY_PATH] : route.match.paths.map(compilePathPattern);
  return patterns.map((pattern) => ({ route, pattern, methods: route.match.methods, rank: baseRank + pattern.rank }));
}

function bySpecificity(a: Entry, b: Entry): number {
  return b.rank - a.rank;
}

/** First (most specific) entry whose pattern and method admit the request. */
function pick(entries: readonly Entry[], method: string, path: string): Entry | undefined {
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (pathMatches(e.pattern, path) && (e.methods.length === 0 || e.methods.includes(method))) return e;
  }
  return undefined;
}

/**
 * `pick` among the entries whose ports admit `scheme`/`port`. Returns the entry, `false`
 * when some entry admits the port but none the method and path, or null when no entry
 * admits the port at all (the host is then not routed for this port: NO_ROUTE).
 */
function pickForPort(entries: readonly Entry[], method: string, path: string, scheme: 'http' | 'https', port: number): Entry | false | null {
  let portOk = false;
  // Indexed loops on the per-request path: for-of may allocate an iterator in V8's mid tier.
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (!portMatches(e.route.match.ports, scheme, port)) continue;
    portOk = true;
    if (pathMatches(e.pattern, path) && (e.methods.length === 0 || e.methods.includes(method))) return e;
  }
  return portOk ? false : null;
}

/** `host` has one or more labels in front of `dotted` (`.example.com`); no allocation. */
function underWildcard(dotted: string, host: string): boolean {
  return host.length > dotted.length && host.endsWith(dotted);
}

function routeResult(route: Route, upstreamPath: string): MatchResult {
  return { kind: 'route', route, upstreamPath };
}

export class RouteTable {
  readonly routes: readonly Route[];
  private readonly egress: EgressSettings;
  private readonly exact = new Map<string, Entry[]>();
  private readonly exactRoutes = new Map<string, Route[]>();
  private readonly wildcards: WildcardGroup[] = [];
  private readonly prefixEntries: PrefixEntry[] = [];
  private readonly allowExact: Map<string, AllowEntry[]>;
  private readonly allowWildcards: readonly AllowEntry[];

  /** Routes are assumed validated by the config loader (no two equally specific matches). */
  constructor(routes: readonly Route[], egress: EgressSettings) {
    this.routes = routes;
    this.egress = egress;
    const wild = new Map<string, { entries: Entry[]; routes: Route[] }>();
    for (const route of routes) {
      const host = route.match.host;
      if (host !== undefined) {
        if (isWildcardHost(host)) {
          const g = wild.get(host) ?? { entries: [], routes: [] };
          g.entries.push(...entriesFor(route, 0));
          g.routes.push(route);
          wild.set(host, g);
        } else {
          this.exact.set(host, [...(this.exact.get(host) ?? []), ...entriesFor(route, 0)]);
          this.exactRoutes.set(host, [...(this.exactRoutes.get(host) ?? []), route]);
        }
      }
      if (route.prefix !== undefined) {
        const prefix = route.prefix;
        for (const e of entriesFor(route, prefix.length * 2)) this.prefixEntries.push({ ...e, prefix });
      }
    }
    for (const list of this.exact.values()) list.sort(bySpecificity);
    for (const [host, g] of wild) this.wildcards.push({ dotted: host.slice(1), entries: g.entries.sort(bySpecificity), routes: g.routes });
    this.wildcards.sort((a, b) => b.dotted.length - a.dotted.length);
    this.prefixEntries.sort(bySpecificity);
    this.allowExact = new Map();
    for (const e of egress.allow) {
      if (!isWildcardHost(e.host)) this.allowExact.set(e.host, [...(this.allowExact.get(e.host) ?? []), e]);
    }
    this.allowWildcards = egress.allow.filter((e) => isWildcardHost(e.host));
  }

  /** Origin-form requests whose Host names a route's exact host are accepted (`egress.host_header_form`). */
  get hostHeaderForm(): boolean {
    return this.egress.hostHeaderForm;
  }

  /**
   * Absolute-form (and plain HTTP inside a tunnel, and intercepted TLS): match by the
   * target's host and port, then path and method. A host with routes for this port but
   * no fitting one is METHOD_DENIED; a port no route of the host lists is NO_ROUTE; a
   * host without routes is passthrough only if `isAllowedPassthrough` (plain HTTP).
   */
  matchHost(method: string, target: Target): MatchResult {
    const path = pathForMatching(target.path);
    let routed = false;
    const exact = this.exact.get(target.host);
    if (exact !== undefined) {
      const e = pickForPort(exact, method, path, target.scheme, target.port);
      if (e) return routeResult(e.route, e.route.upstream.basePath + target.path);
      routed ||= e === false;
    }
    const wildcards = this.wildcards;
    for (let i = 0; i < wildcards.length; i++) {
      const g = wildcards[i]!;
      if (!underWildcard(g.dotted, target.host)) continue;
      const e = pickForPort(g.entries, method, path, target.scheme, target.port);
      if (e) return routeResult(e.route, e.route.upstream.basePath + target.path);
      routed ||= e === false;
    }
    if (routed) return METHOD_DENIED;
    return this.passthroughAllowed(target.host, target.port, target.scheme === 'https' ? 'tunnel' : 'http') ? PASSTHROUGH : NO_ROUTE;
  }

  /**
   * Base-URL form: `path` is the validated origin-form path (no query). The prefix is
   * matched literally on whole segments; the route's path patterns apply to the rest.
   * Returns null when no prefix covers the path (the caller answers 400 or tries the
   * host-header form), METHOD_DENIED when a prefix does but no route admits the request.
   */
  matchPrefix(method: string, path: string): MatchResult | null {
    let covered = false;
    const entries = this.prefixEntries;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (!prefixMatches(e.prefix, path)) continue;
      covered = true;
      const rest = path.length === e.prefix.length ? '/' : path.slice(e.prefix.length);
      if (!pathMatches(e.pattern, pathForMatching(rest))) continue;
      if (e.methods.length !== 0 && !e.methods.includes(method)) continue;
      return routeResult(e.route, e.route.upstream.basePath + rest);
    }
    return covered ? METHOD_DENIED : null;
  }

  /**
   * Host-header form (opt-in, `egress.host_header_form`): an origin-form request whose
   * Host names a route's exact host. Returns null when the form is off or no route names
   * that exact host (never passthrough: the agent's DNS points that host at us). The
   * port must be one the route accepts for http://, as in the other forms.
   */
  routeForHostHeaderForm(method: string, host: string, port: number, path: string): MatchResult | null {
    if (!this.egress.hostHeaderForm) return null;
    const exact = this.exact.get(host);
    if (exact === undefined) return null;
    const e = pickForPort(exact, method, pathForMatching(path), 'http', port);
    if (e === null) return NO_ROUTE;
    return e ? routeResult(e.route, e.route.upstream.basePath + path) : METHOD_DENIED;
  }

  /**
   * May a request to `host:port` (a host no route covers) go out without credentials?
   * True when an `egress.allow` entry admits the host and port (without a port: 80 for
   * plain HTTP, 443 for a byte tunnel), or `egress.unmatched` is passthrough (any port);
   * never for a host that any route covers: a routed host is matched, not tunnelled.
   */
  isAllowedPassthrough(host: string, port: number, kind: PassthroughKind): boolean {
    return this.passthroughAllowed(host, port, kind);
  }

  /**
   * Routes whose host pattern covers `host`, most specific host first (for CONNECT
   * decisions); with `port`, only those that accept `CONNECT host:port`.
   */
  routesForHost(host: string, port?: number): readonly Route[] {
    const exact = this.exactRoutes.get(host);
    let out: Route[] | undefined;
    for (const g of this.wildcards) {
      if (underWildcard(g.dotted, host)) (out ??= [...(exact ?? [])]).push(...g.routes);
    }
    const all = out ?? exact ?? NO_ROUTES;
    return port === undefined ? all : all.filter((r) => connectPortMatches(r.match.ports, port));
  }

  /** Does any route that covers `host` carry a credential? (Such hosts are intercepted, never tunnelled.) */
  hasCredentialRouteForHost(host: string): boolean {
    return this.routesForHost(host).some((r) => r.credential !== null);
  }

  private coversHost(host: string): boolean {
    if (this.exact.has(host)) return true;
    for (const g of this.wildcards) if (underWildcard(g.dotted, host)) return true;
    return false;
  }

  private passthroughAllowed(host: string, port: number, kind: PassthroughKind): boolean {
    if (this.coversHost(host)) return false;
    for (const e of this.allowExact.get(host) ?? NO_ENTRIES) if (allowAdmits(e, port, kind)) return true;
    for (const w of this.allowWildcards) if (hostMatches(w.host, host) && allowAdmits(w, port, kind)) return true;
    // `unmatched: passthrough` is an explicit open egress: every port (the address gate still applies).
    return this.egress.unmatched === 'passthrough';
  }
}

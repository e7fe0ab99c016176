/**
 * Domain types of routing: a route (how it is matched, where it forwards, which
 * credential it carries and how) and the egress policy for hosts no route covers.
 * `config/` converts the YAML wire shape into these once (STYLE 2); the matcher,
 * the pipeline and the gateway read only these. Nothing here depends on `config/`.
 */

export type HeaderType = 'bearer' | 'api_key' | 'basic' | 'custom';

/** How the vault's header is asked for (`use` / `http_header` params). */
export interface InjectSpec {
  readonly headerType: HeaderType;
  /** Required for `custom`, lowercase. */
  readonly headerName: string | undefined;
}

export type RouteMode = 'inject' | 'delegate';

/** The origin a route forwards to. Scheme, host, port and TLS servername all come from here (I3). */
export interface Upstream {
  readonly scheme: 'http' | 'https';
  readonly host: string;
  readonly port: number;
  /** Path prefix on the upstream with no trailing slash ('' for none), e.g. '/v1'. */
  readonly basePath: string;
  /** `scheme://host[:port]` as undici wants it. */
  readonly origin: string;
  /** `host[:port]` (port only when not the scheme's default) as the upstream's Host header carries it. */
  readonly authority: string;
}

export interface RouteTimeouts {
  readonly connectMs: number;
  /** Time to response headers. */
  readonly headersMs: number;
  /** Longest silence on a body in either direction; idle, not total, so long streams live (I15). */
  readonly idleMs: number;
}

/** How a route is selected. A route has a host match, a prefix, or both. */
export interface RouteMatch {
  /** Exact lowercase host, or `*.example.com` when `allowWildcardHost` is set. */
  readonly host: string | undefined;
  /**
   * Ports a host-form request may name (`match.port`/`match.ports`). Empty: the default
   * port of the request's scheme only (80 for http://, 443 for https://; 80 or 443 for CONNECT).
   */
  readonly ports: readonly number[];
  /** Path patterns: exact (`/v1/models`) or prefix (`/v1/*`, matching whole segments). Empty = any path. */
  readonly paths: readonly string[];
  /** Uppercase methods; empty = any method. */
  readonly methods: readonly string[];
}

export interface Route {
  readonly name: string;
  readonly match: RouteMatch;
  /** Base-URL prefix on the sidecar, e.g. `/openai`; matched on whole path segments. */
  readonly prefix: string | undefined;
  readonly upstream: Upstream;
  /** Vault path of the credential; may contain `{agent}` as a whole segment (the agent's name; `vault.agent` without `agents:`). Null: no credential (plain forward). */
  readonly credential: string | null;
  readonly mode: RouteMode;
  readonly inject: InjectSpec;
  /** 0 = ask the vault on every request. */
  readonly cacheTtlMs: number;
  readonly allowPlaintext: boolean;
  /** A plain-http credential route may go through the upstream proxy, which then sees the credential (opt-in). */
  readonly allowPlaintextViaProxy?: boolean;
  readonly allowWildcardHost: boolean;
  /** Keep the agent's Cookie header on this credential route (stripped by default, I6). */
  readonly keepCookies: boolean;
  readonly timeouts: RouteTimeouts;
  /** Delegate mode: the largest request body sent to the vault. */
  readonly maxBodyBytes: number;
  /** 1-based line of the route in routes.yaml, for messages. */
  readonly line: number | undefined;
  /** Per agent per route (per route without `agents:`); absent: no limit. */
  readonly rateLimit?: RateLimit;
  /** Repeat POST/PATCH (and other non-idempotent methods) once when a reused connection fails before any answer (proxy/retry). */
  readonly retryNonIdempotent: boolean;
  /** What to do when the upstream's answer carries the injected credential (proxy/response-guard). */
  readonly responseGuard: ResponseGuardMode;
  /** Forward the agent's Forwarded / X-Forwarded-* / X-Real-IP / Via headers (stripped by default). */
  readonly keepForwardingHeaders: boolean;
  /** Request headers the route sets (replacing the agent's) and removes (proxy/header-policy). */
  readonly headers: RouteHeaders;
}

export type ResponseGuardMode = 'mask' | 'abort' | 'off';

/** `headers: {set, remove}` on a route; names lowercase. */
export interface RouteHeaders {
  readonly set: ReadonlyArray<readonly [name: string, value: string]>;
  readonly remove: readonly string[];
}

/** A token bucket: `requests` per `perMs`, holding at most `burst` (it starts full). */
export interface TokenBucketSpec {
  readonly requests: number;
  readonly perMs: number;
  readonly burst: number;
}

/** `rate_limit:` on an agent or a route. At least one of the two is set. */
export interface RateLimit {
  readonly bucket: TokenBucketSpec | undefined;
  /** Concurrent requests, counted from dispatch until the response closes. */
  readonly maxStreams: number | undefined;
}

export type UnmatchedPolicy = 'deny' | 'passthrough';

export interface EgressSettings {
  readonly unmatched: UnmatchedPolicy;
  /** Hosts tunnelled/forwarded without credentials: exact names or `*.suffix`, each with an optional port. */
  readonly allow: readonly AllowEntry[];
  readonly blockPrivateAddresses: boolean;
  /** Accept origin-form requests whose Host names a route's exact host (opt-in). */
  readonly hostHeaderForm: boolean;
}

/**
 * One `egress.allow` entry. Without a port, byte tunnels may go to 443 and plain HTTP
 * passthrough to 80; with one, exactly that port (for either).
 */
export interface AllowEntry {
  readonly host: string;
  readonly port: number | undefined;
}

/**
 * Domain types for the sidecar's configuration. The YAML wire shape lives in
 * `config/schema.ts` and is converted once, in `config/load.ts`, into these types;
 * nothing outside `config/` sees the wire shape (STYLE 2).
 */

export type HeaderType = 'bearer' | 'api_key' | 'basic' | 'custom';

/** How the vault's header is asked for (`use` / `http_header` params). */
export interface InjectSpec {
  readonly headerType: HeaderType;
  /** Required for `custom`, lowercase. */
  readonly headerName: string | undefined;
}

export type RouteMode = 'inject' | 'delegate';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** The origin a route forwards to. Scheme, host, port and TLS servername all come from here (I3). */
export interface Upstream {
  readonly scheme: 'http' | 'https';
  readonly host: string;
  readonly port: number;
  /** Path prefix on the upstream with no trailing slash ('' for none), e.g. '/v1'. */
  readonly basePath: string;
  /** `scheme://host[:port]` as undici wants it. */
  readonly origin: string;
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
  /** Repeat POST/PATCH (and other non-idempotent methods) once when a reused connection fails before any answer. */
  readonly retryNonIdempotent: boolean;
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

/** Who the sidecar is toward the vault: an agent name and its Ed25519 key file. */
export interface VaultIdentity {
  readonly agent: string;
  readonly keyFile: string;
  readonly passphraseEnv: string | undefined;
}

/** Gateway mode: one agent sharing this sidecar (I14). */
export interface AgentSettings {
  readonly name: string;
  /** Lowercase hex sha256 of the proxy token; undefined for an agent reached only through its own listener. */
  readonly tokenSha256: string | undefined;
  /** Undefined: the top-level `vault:` identity. */
  readonly vault: VaultIdentity | undefined;
  /** Names of the routes this agent may use. */
  readonly routes: readonly string[];
  /** Strings the agent's SDKs are given instead of keys; tripwires watch where they go. */
  readonly placeholders: readonly string[];
  /** A dedicated listener: every request on it is this agent, no token needed. */
  readonly listen: HostPort | undefined;
  readonly rateLimit: RateLimit | undefined;
  readonly line: number | undefined;
}

export interface VaultSettings {
  readonly agent: string;
  /** Unix socket path (preferred, I12) ... */
  readonly socket: string | undefined;
  /** ... or TCP. Exactly one of the two is set. */
  readonly tcp: HostPort | undefined;
  readonly keyFile: string;
  /** Environment variable that holds the passphrase of an encrypted `.key.enc` file. */
  readonly passphraseEnv: string | undefined;
  readonly timeoutMs: number;
}

export type UnmatchedPolicy = 'deny' | 'passthrough';

export interface EgressSettings {
  readonly unmatched: UnmatchedPolicy;
  /** Hosts tunnelled/forwarded without credentials: exact names or `*.suffix`. */
  readonly allow: readonly string[];
  readonly blockPrivateAddresses: boolean;
  /** Accept origin-form requests whose Host names a route's exact host (opt-in). */
  readonly hostHeaderForm: boolean;
}

export interface TlsSettings {
  /** Directory with the interception CA (`ca.crt`, `ca.key`), from `sanctum-sidecar ca init`. */
  readonly caDir: string | undefined;
  /** Extra CA bundle trusted for upstream verification (tests, private upstreams). */
  readonly upstreamCaFile: string | undefined;
}

export interface LimitsSettings {
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxHeaderBytes: number;
  readonly maxConnections: number;
  /** Delegate-mode vault calls allowed to wait at once; beyond it, 503 VAULT_BUSY. */
  readonly maxDelegatesInFlight: number;
  readonly shutdownTimeoutMs: number;
  /** Request bodies up to this size are held until the answer starts, so a failed reused connection can be retried (0: bodiless requests only). */
  readonly retryBufferBytes: number;
}

export interface Config {
  readonly version: 1;
  readonly listen: HostPort;
  readonly admin: HostPort | undefined;
  readonly vault: VaultSettings;
  readonly egress: EgressSettings;
  readonly tls: TlsSettings;
  readonly limits: LimitsSettings;
  readonly routes: readonly Route[];
  /** Gateway mode when non-empty; empty for the single-agent sidecar. */
  readonly agents: readonly AgentSettings[];
  /** sha256 of the source text (hex, first 16 chars): `config_info{hash}`. */
  readonly hash: string;
  /** Where it came from, for messages. */
  readonly source: string;
  /**
   * YAML paths (e.g. `vault.tcp`) whose values came from `${VAR}` interpolation, so a
   * summary can avoid echoing environment values. Optional: absent = none.
   */
  readonly envPaths?: readonly string[];
}

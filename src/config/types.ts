/**
 * Domain types for the sidecar's configuration. The YAML wire shape lives in
 * `config/schema.ts` and is converted once, in `config/load.ts`, into these types;
 * nothing outside `config/` sees the wire shape (STYLE 2). Route types belong to
 * routing (`routing/route.ts`) and are re-exported here for the converters.
 */
import type { EgressSettings, RateLimit, Route, RouteTimeouts } from '../routing/route.js';
import type { NoProxyEntry } from '../routing/no-proxy.js';

export type {
  AllowEntry,
  EgressSettings,
  HeaderType,
  InjectSpec,
  RateLimit,
  ResponseGuardMode,
  Route,
  RouteHeaders,
  RouteMatch,
  RouteMode,
  RouteTimeouts,
  TokenBucketSpec,
  UnmatchedPolicy,
  Upstream,
} from '../routing/route.js';

export interface HostPort {
  readonly host: string;
  readonly port: number;
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
  /** Longest silence while a request body is arriving; independent of requestTimeoutMs. */
  readonly bodyIdleTimeoutMs: number;
  /** After SIGTERM: keep serving this long with /readyz at 503, then drain (0 = drain at once). */
  readonly drainDelayMs: number;
}

/** Waits not tied to one route (I15): idle, not total, where streams may run long. */
export interface TimeoutSettings {
  /** Allow-listed hosts forwarded without credentials (absolute-form `http://`). */
  readonly passthrough: RouteTimeouts;
  /** CONNECT byte tunnels: dialling the checked address. */
  readonly tunnelConnectMs: number;
  /** CONNECT byte tunnels: longest silence in either direction. */
  readonly tunnelIdleMs: number;
  /** Spliced WebSockets: longest silence in either direction. */
  readonly websocketIdleMs: number;
  /** Intercepted TLS: the agent's handshake with the sidecar's leaf certificate. */
  readonly tlsHandshakeMs: number;
}

// --- upstream (corporate) proxy: egress.upstream_proxy (README "Corporate proxy") ---
export type { NoProxyEntry } from '../routing/no-proxy.js';

/** Where the Basic credential for the upstream proxy comes from; never the value itself (I10). */
export type ProxyCredential =
  /** `use`/`http_header` with header_type basic at this vault path. */
  | { readonly kind: 'vault'; readonly path: string }
  /** An environment variable holding `user:pass`. */
  | { readonly kind: 'env'; readonly variable: string }
  /** The user:pass part of a proxy URL taken from this environment variable (HTTPS_PROXY=http://u:p@host:port). */
  | { readonly kind: 'proxy_url'; readonly variable: string };

/** One upstream proxy: a plain-HTTP proxy at host:port. */
export interface ProxyEndpoint {
  readonly host: string;
  readonly port: number;
  /** Where it was configured, for messages: `egress.upstream_proxy`, `HTTPS_PROXY`, `SANCTUM_SIDECAR_UPSTREAM_PROXY`, ... */
  readonly from: string;
  readonly credential: ProxyCredential | undefined;
}

export interface UpstreamProxySettings {
  /** As asked for: undefined (none), 'env', or a URL without user:pass; kept so an override can re-derive the rest. */
  readonly setting: string | undefined;
  /** `egress.upstream_proxy`, or the override that set `setting`. */
  readonly settingFrom: string;
  /** `egress.no_proxy` and `egress.upstream_proxy_credential(_env)` as written. */
  readonly configuredNoProxy: readonly NoProxyEntry[];
  readonly configuredCredential: ProxyCredential | undefined;
  /** The proxy for https:// upstreams and CONNECT byte tunnels (CONNECT, then end-to-end bytes). */
  readonly https: ProxyEndpoint | undefined;
  /** The proxy for plain http:// upstreams (absolute-form requests). */
  readonly http: ProxyEndpoint | undefined;
  /** Destinations that bypass the proxy: `egress.no_proxy`, plus NO_PROXY with `upstream_proxy: env`. */
  readonly noProxy: readonly NoProxyEntry[];
}
// --- end upstream proxy ---

export interface Config {
  readonly version: 1;
  readonly listen: HostPort;
  readonly admin: HostPort | undefined;
  /** Serve /routes and /explain on an admin listener that is not on loopback. */
  readonly adminDetail: boolean;
  readonly vault: VaultSettings;
  readonly egress: EgressSettings;
  readonly tls: TlsSettings;
  readonly limits: LimitsSettings;
  readonly timeouts: TimeoutSettings;
  readonly routes: readonly Route[];
  /** `egress.upstream_proxy` and friends; absent = no upstream proxy. */
  readonly upstreamProxy?: UpstreamProxySettings;
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

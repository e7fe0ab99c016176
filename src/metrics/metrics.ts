/**
 * Every metric the sidecar exports, declared in this one file on one Registry (STYLE 8).
 *
 * Names carry the `sanctum_sidecar_` prefix and base units. Labels are bounded: route
 * and agent names come from config, `code_class` is 1xx..5xx, `reason`/`result` values
 * come from the error catalogue or fixed lists — never a raw host, path or header value.
 * prom-client lives only in this folder.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { EventEmitter } from 'node:events';
import { FastCounter, FastHistogram } from './fast.js';
import { SIDECAR_VERSION } from '../version.js';

const P = 'sanctum_sidecar_';

/** Proxy-suited buckets: 1 ms to 60 s (LLM streams run long). */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const VAULT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** `upstream_proxy_requests_total{result}`: ok, or which hop failed how (proxy/record.ts maps codes to these). */
export const UPSTREAM_PROXY_RESULTS = ['ok', 'proxy_auth', 'proxy_refused', 'proxy_error', 'proxy_unreachable', 'address_blocked', 'upstream_error', 'error'] as const;
export type UpstreamProxyResult = (typeof UPSTREAM_PROXY_RESULTS)[number];

export type Outcome =
  | 'forwarded'
  | 'delegated'
  | 'passthrough'
  | 'denied'
  | 'bad_request'
  | 'vault_error'
  | 'upstream_error'
  | 'timeout'
  | 'client_abort'
  | 'rate_limited'
  | 'error';

/** Listener label values of `open_connections` (bounded: one per kind of listener, not per address). */
export type ConnectionListener = 'proxy' | 'agent' | 'admin';
/** The `outcome` values of `tunnels_total` (proxy/tunnel-record TunnelDecision). */
const TUNNEL_OUTCOMES = ['intercept', 'plain_http', 'tunnel', 'refused'] as const;

export class Metrics {
  readonly registry = new Registry();

  // Per-request series use the hash-free types in fast.ts (label values in labelNames order).
  readonly requests = new FastCounter(
    `${P}requests_total`,
    'Requests handled, by route, method, status class and outcome.',
    ['route', 'method', 'code_class', 'outcome', 'agent'],
    this.registry,
  );
  readonly requestDuration = new FastHistogram(
    `${P}request_duration_seconds`,
    'Time from request start to the end of the response.',
    ['route'],
    DURATION_BUCKETS,
    this.registry,
  );
  readonly upstreamDuration = new FastHistogram(
    `${P}upstream_duration_seconds`,
    'Time from dispatch to upstream response headers.',
    ['route'],
    DURATION_BUCKETS,
    this.registry,
  );
  readonly vaultRequests = new Counter({
    name: `${P}vault_requests_total`,
    help: 'Vault calls by operation and result (ok or the vault/transport error code).',
    labelNames: ['operation', 'result'] as const,
    registers: [this.registry],
  });
  readonly vaultDuration = new Histogram({
    name: `${P}vault_request_duration_seconds`,
    help: 'Vault call latency by operation.',
    labelNames: ['operation'] as const,
    buckets: VAULT_BUCKETS,
    registers: [this.registry],
  });
  readonly vaultConnectionState = new Gauge({
    name: `${P}vault_connection_state`,
    help: 'Vault connection state: 1 for the current state, 0 for the others.',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });
  readonly injections = new FastCounter(
    `${P}injections_total`,
    'Credential injections by route and result (injected, replaced_agent_header, failed).',
    ['route', 'result'],
    this.registry,
  );
  readonly cacheEvents = new FastCounter(
    `${P}credential_cache_events_total`,
    'Credential cache events by route (hit, miss, coalesced).',
    ['route', 'event'],
    this.registry,
  );
  readonly denied = new Counter({
    name: `${P}denied_requests_total`,
    help: 'Requests refused by the sidecar, by catalogue code.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly tunnelsActive = new Gauge({
    name: `${P}tunnels_active`,
    help: 'CONNECT tunnels currently open.',
    registers: [this.registry],
  });
  readonly tunnels = new Counter({
    name: `${P}tunnels_total`,
    help: 'CONNECT decisions by outcome (intercept, plain_http, tunnel, refused).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly bytes = new FastCounter(
    `${P}bytes_total`,
    'Body bytes by route and direction (in = from the agent, out = to the agent).',
    ['route', 'direction'],
    this.registry,
  );
  readonly configReloads = new Counter({
    name: `${P}config_reloads_total`,
    help: 'Configuration reloads by result (success, error).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly configInfo = new Gauge({
    name: `${P}config_info`,
    help: 'The loaded configuration: 1 for the active hash.',
    labelNames: ['hash'] as const,
    registers: [this.registry],
  });
  readonly configLastReloadSuccess = new Gauge({
    name: `${P}config_last_reload_success_timestamp_seconds`,
    help: 'Unix time of the last successful configuration load.',
    registers: [this.registry],
  });
  readonly rateLimited = new Counter({
    name: `${P}rate_limited_total`,
    help: 'Requests refused by a rate or concurrency limit, by agent and route.',
    labelNames: ['agent', 'route'] as const,
    registers: [this.registry],
  });
  readonly upstreamRetries = new Counter({
    name: `${P}upstream_retries_total`,
    help: 'Requests sent upstream a second time, on a fresh connection, after a reused connection failed before any answer, by route and reason (idempotent, not_sent, idempotency_key, route_opt_in).',
    labelNames: ['route', 'reason'] as const,
    registers: [this.registry],
  });
  readonly responseGuard = new FastCounter(
    `${P}response_guard_total`,
    'Upstream answers that carried the injected credential, by route and action (masked, aborted, uninspectable).',
    ['route', 'action'],
    this.registry,
  );
  readonly tripwires = new Counter({
    name: `${P}tripwires_total`,
    help: 'Requests blocked because a placeholder or proxy token was bound for the wrong host.',
    labelNames: ['agent', 'kind'] as const,
    registers: [this.registry],
  });
  // --- upstream (corporate) proxy (README "Corporate proxy"; results: UPSTREAM_PROXY_RESULTS) ---
  readonly upstreamProxyRequests = new Counter({
    name: `${P}upstream_proxy_requests_total`,
    help: 'Requests and byte tunnels whose destination is served through the upstream proxy, by route and result (ok, proxy_auth, proxy_refused, proxy_error, proxy_unreachable, address_blocked, upstream_error, error).',
    labelNames: ['route', 'result'] as const,
    registers: [this.registry],
  });
  readonly upstreamProxyConnects = new Counter({
    name: `${P}upstream_proxy_connects_total`,
    help: 'CONNECT handshakes with the upstream proxy by result (ok, auth_required, refused, error, unreachable).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  // --- end upstream proxy ---

  // ---- Operations (issue 16): build info, in-flight requests, open connections, CA expiry. ----
  readonly buildInfo = new Gauge({
    name: `${P}build_info`,
    help: 'The running build: 1, labelled with the sidecar version and the Node.js version.',
    labelNames: ['version', 'node'] as const,
    registers: [this.registry],
  });
  /** Requests taken by the pipeline whose response has not closed yet (a plain number: read at scrape, not hashed per request). */
  inFlight = 0;
  /** Open client connections per listener, counted on `connection` and socket `close`. */
  readonly #connections: Record<ConnectionListener, number> = { proxy: 0, agent: 0, admin: 0 };
  /** Created only when interception is on, so a sidecar without a CA exports no 0 timestamp an alert would read as expired. */
  #caExpiry: Gauge | null = null;

  /** Count the open connections of `server` under `listener` (proxy, an agent's dedicated listener, admin). */
  countConnections(server: EventEmitter, listener: ConnectionListener): void {
    server.on('connection', (socket: EventEmitter) => {
      this.#connections[listener] += 1;
      socket.once('close', () => {
        this.#connections[listener] -= 1;
      });
    });
  }

  /** The interception CA's notAfter (Unix seconds); called once the CA is loaded. */
  setCaExpiry(notAfterMs: number): void {
    this.#caExpiry ??= new Gauge({
      name: `${P}ca_certificate_expiry_timestamp_seconds`,
      help: 'Unix time at which the TLS-interception CA certificate expires (present only when interception is on).',
      registers: [this.registry],
    });
    this.#caExpiry.set(notAfterMs / 1000);
  }

  #declareOperationalGauges(): void {
    const inFlightOf = (): number => this.inFlight;
    new Gauge({
      name: `${P}requests_in_flight`,
      help: 'Requests being handled (including requests inside CONNECT tunnels), from arrival until the response closes.',
      registers: [this.registry],
      collect() {
        this.set(inFlightOf());
      },
    });
    const connections = this.#connections;
    new Gauge({
      name: `${P}open_connections`,
      help: 'Open client connections by listener: proxy (the main listener, tunnels included), agent (gateway agents\' dedicated listeners), admin.',
      labelNames: ['listener'] as const,
      registers: [this.registry],
      collect() {
        for (const [listener, n] of Object.entries(connections)) this.set({ listener }, n);
      },
    });
    this.buildInfo.set({ version: SIDECAR_VERSION, node: process.versions.node }, 1);
    for (const result of ['success', 'error']) this.configReloads.inc({ result }, 0);
    for (const outcome of TUNNEL_OUTCOMES) this.tunnels.inc({ outcome }, 0);
  }
  // ---- end operations ----

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    this.#declareOperationalGauges();
  }

  setVaultState(state: string): void {
    for (const s of ['connecting', 'ready', 'failed', 'closed']) this.vaultConnectionState.set({ state: s }, s === state ? 1 : 0);
  }

  setConfig(hash: string): void {
    this.configInfo.reset();
    this.configInfo.set({ hash }, 1);
    this.configLastReloadSuccess.set(Date.now() / 1000);
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** `2xx` style class of a status code; a bounded label. */
export function codeClass(status: number): string {
  // A constant per class: a string built per request would also be hashed anew by every label lookup.
  return status >= 100 && status < 600 ? CODE_CLASSES[Math.floor(status / 100) - 1]! : 'none';
}
const CODE_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

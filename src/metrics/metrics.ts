/**
 * Every metric the sidecar exports, declared in this one file on one Registry (STYLE 8).
 *
 * Names carry the `sanctum_sidecar_` prefix and base units. Labels are bounded: route
 * and agent names come from config, `code_class` is 1xx..5xx, `reason`/`result` values
 * come from the error catalogue or fixed lists — never a raw host, path or header value.
 * prom-client lives only in this folder.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const P = 'sanctum_sidecar_';

/** Proxy-suited buckets: 1 ms to 60 s (LLM streams run long). */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const VAULT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

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

export class Metrics {
  readonly registry = new Registry();

  readonly requests = new Counter({
    name: `${P}requests_total`,
    help: 'Requests handled, by route, method, status class and outcome.',
    labelNames: ['route', 'method', 'code_class', 'outcome', 'agent'] as const,
    registers: [this.registry],
  });
  readonly requestDuration = new Histogram({
    name: `${P}request_duration_seconds`,
    help: 'Time from request start to the end of the response.',
    labelNames: ['route'] as const,
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });
  readonly upstreamDuration = new Histogram({
    name: `${P}upstream_duration_seconds`,
    help: 'Time from dispatch to upstream response headers.',
    labelNames: ['route'] as const,
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });
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
  readonly injections = new Counter({
    name: `${P}injections_total`,
    help: 'Credential injections by route and result (injected, replaced_agent_header, failed).',
    labelNames: ['route', 'result'] as const,
    registers: [this.registry],
  });
  readonly cacheEvents = new Counter({
    name: `${P}credential_cache_events_total`,
    help: 'Credential cache events by route (hit, miss, coalesced).',
    labelNames: ['route', 'event'] as const,
    registers: [this.registry],
  });
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
  readonly bytes = new Counter({
    name: `${P}bytes_total`,
    help: 'Body bytes by route and direction (in = from the agent, out = to the agent).',
    labelNames: ['route', 'direction'] as const,
    registers: [this.registry],
  });
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
  readonly tripwires = new Counter({
    name: `${P}tripwires_total`,
    help: 'Requests blocked because a placeholder or proxy token was bound for the wrong host.',
    labelNames: ['agent', 'kind'] as const,
    registers: [this.registry],
  });

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
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
  if (status >= 100 && status < 600) return `${Math.floor(status / 100)}xx`;
  return 'none';
}

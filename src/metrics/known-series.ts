/**
 * Zero series: every labelled counter whose label values are all known before any
 * request (from the configuration or from a fixed list) is exported at 0 from start-up
 * and again after each reload. Prometheus's `increase()` and `rate()` need a sample
 * before the first event: a series that is born at 1 shows no increase, so an alert on
 * "tripwires > 0" would miss the first tripwire.
 *
 * Declared here: credential injections and cache events per inject route, bytes per
 * route and direction, vault calls (`ok`) per operation the routes use, refusals per
 * catalogue code with a 4xx status, tripwires per agent and kind, and rate-limit
 * refusals per (agent, route) pair that has a limit, and upstream retries per route that
 * forwards itself (not delegate) and reason (`route_opt_in` only where the route opts in;
 * route `none` when passthrough is possible). With an upstream proxy configured:
 * `upstream_proxy_requests_total` for every result of each inject or credential-less
 * route whose upstream the proxy serves (not no_proxy'd; delegate routes are sent by
 * the vault) and of `none` when passthrough or tunnels may use it, and
 * `upstream_proxy_connects_total` for every handshake result when https upstreams or
 * tunnels may go through it. Reload results and tunnel outcomes are fixed lists,
 * declared by `Metrics` itself.
 *
 * Not declared: `requests_total`, whose method and status-class labels are properties
 * of requests, not of the configuration (their product would be hundreds of series per
 * route). Series of routes or agents that a reload removed keep their last value.
 */
import type { Config } from '../config/types.js';
import { CATALOGUE, type ErrorCode } from '../errors.js';
import { UPSTREAM_PROXY_RESULTS, type Metrics } from './metrics.js';
import type { ProxyConnectResult } from '../egress/proxy-connect.js';
import { bypassesProxy } from '../routing/no-proxy.js';

const INJECTION_RESULTS = ['injected', 'replaced_agent_header', 'failed'] as const;
const CACHE_EVENTS = ['hit', 'miss', 'coalesced'] as const;
const DIRECTIONS = ['in', 'out'] as const;
const TRIPWIRE_KINDS = ['placeholder', 'proxy_token'] as const;
/** Retry reasons every forwarding route can see; `route_opt_in` needs `retry.non_idempotent` (proxy/retry). */
const RETRY_REASONS = ['idempotent', 'not_sent', 'idempotency_key'] as const;
const PROXY_CONNECT_RESULTS = ['ok', 'auth_required', 'refused', 'error', 'unreachable'] as const satisfies readonly ProxyConnectResult[];
/** Codes a refusal can carry in `denied_requests_total{reason}`: the 4xx entries of the catalogue. */
const REFUSAL_CODES = (Object.keys(CATALOGUE) as ErrorCode[]).filter((c) => CATALOGUE[c].status >= 400 && CATALOGUE[c].status < 500);

/** Export every series of `config` that does not exist yet at 0 (existing series keep their values). */
export function declareKnownSeries(m: Metrics, config: Config): void {
  for (const reason of REFUSAL_CODES) m.denied.inc({ reason }, 0);
  for (const r of config.routes) {
    for (const d of DIRECTIONS) m.bytes.declare([r.name, d]);
    if (r.mode !== 'delegate') {
      for (const reason of RETRY_REASONS) m.upstreamRetries.inc({ route: r.name, reason }, 0);
      if (r.retryNonIdempotent) m.upstreamRetries.inc({ route: r.name, reason: 'route_opt_in' }, 0);
    }
    if (r.credential === null) continue;
    if (r.mode === 'inject') {
      for (const result of INJECTION_RESULTS) m.injections.declare([r.name, result]);
      for (const event of CACHE_EVENTS) m.cacheEvents.declare([r.name, event]);
      m.vaultRequests.inc({ operation: 'http_header', result: 'ok' }, 0);
    } else {
      m.vaultRequests.inc({ operation: 'http_request', result: 'ok' }, 0);
    }
  }
  for (const a of config.agents) for (const kind of TRIPWIRE_KINDS) m.tripwires.inc({ agent: a.name, kind }, 0);
  for (const [agent, route] of rateLimitedPairs(config)) m.rateLimited.inc({ agent, route }, 0);
  if (passthroughPossible(config)) for (const reason of RETRY_REASONS) m.upstreamRetries.inc({ route: 'none', reason }, 0);
  declareUpstreamProxySeries(m, config);
}

/** Requests may be forwarded without a route (`route="none"`): unmatched passthrough or an allow list. */
function passthroughPossible(config: Config): boolean {
  return config.egress.unmatched === 'passthrough' || config.egress.allow.length > 0;
}

/** The upstream proxy's series (module note): only for what the proxy can serve under this config. */
function declareUpstreamProxySeries(m: Metrics, config: Config): void {
  const p = config.upstreamProxy;
  if (p === undefined || (p.https === undefined && p.http === undefined)) return;
  const routes = config.routes.filter((r) => {
    if (r.credential !== null && r.mode !== 'inject') return false;
    const ep = r.upstream.scheme === 'http' ? p.http : p.https;
    return ep !== undefined && !bypassesProxy(p.noProxy, r.upstream.host, r.upstream.port);
  });
  const passthrough = passthroughPossible(config);
  const names = [...routes.map((r) => r.name), ...(passthrough ? ['none'] : [])];
  for (const route of names) for (const result of UPSTREAM_PROXY_RESULTS) m.upstreamProxyRequests.inc({ route, result }, 0);
  const connects = p.https !== undefined && (passthrough || routes.some((r) => r.upstream.scheme === 'https'));
  if (connects) for (const result of PROXY_CONNECT_RESULTS) m.upstreamProxyConnects.inc({ result }, 0);
}

/**
 * The (agent, route) label pairs `rate_limited_total` can carry: an agent's own limit
 * applies to each of its routes and to passthrough (`none`); a route's limit to each
 * agent that may use it (the agent is empty without `agents:`).
 */
function rateLimitedPairs(config: Config): Array<[string, string]> {
  const pairs = new Map<string, [string, string]>();
  const add = (agent: string, route: string): void => {
    pairs.set(`${agent}\u0000${route}`, [agent, route]);
  };
  const passthrough = passthroughPossible(config);
  const limited = new Set(config.routes.filter((r) => r.rateLimit !== undefined).map((r) => r.name));
  if (config.agents.length === 0) {
    for (const route of limited) add('', route);
    return [...pairs.values()];
  }
  for (const a of config.agents) {
    for (const route of a.routes) if (a.rateLimit !== undefined || limited.has(route)) add(a.name, route);
    if (a.rateLimit !== undefined && passthrough) add(a.name, 'none');
  }
  return [...pairs.values()];
}

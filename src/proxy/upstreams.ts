/**
 * Upstream connections: the one place undici pools and agents are built (STYLE 12, 14).
 *
 * One keep-alive Pool per route, built explicitly (never from proxy environment
 * variables, I7) with certificate verification on; one gated Agent for passthrough
 * whose connector resolves once, checks the address (I8) and dials exactly that
 * address. With an upstream (corporate) proxy configured, the same pools and agent reach
 * their origins through it (proxy/proxied.ts); the choice is made per origin, from
 * no_proxy. Pool slots record their sockets (proxy/connections) so that proxy/retry can
 * tell a reused connection from a fresh one, and a retry gets a one-off connection with
 * the failed attempt's settings (`dispatchFresh`). Idle pooled connections follow the
 * upstream's `Keep-Alive: timeout=` hint, less a margin, and otherwise close after 4 s,
 * below the 5 s idle timeout common upstream servers use.
 */
import { rootCertificates } from 'node:tls';
import type { Client as UndiciClient } from 'undici';
import { Agent, Client, Pool, buildConnector, type Connector, type Dispatcher } from '../undici-core.js';
import type { Route } from '../routing/route.js';
import { SidecarError } from '../errors.js';
import { checkDestination, type GateOptions } from '../egress/address-gate.js';
import { proxyKey, UpstreamProxy, type ProxyUse } from '../egress/upstream-proxy.js';
import { AbsoluteForm, PassthroughSwitch, tunnelConnector } from './proxied.js';
import { trackingClientFactory } from './connections.js';

export interface UpstreamOptions {
  /** Extra PEM trusted for upstream TLS in addition to the public roots (tests, private CAs). */
  readonly extraCa: string | undefined;
  readonly keepAliveTimeoutMs?: number;
  readonly gate: GateOptions;
  /** The upstream proxy of the current configuration, or null: direct (README "Corporate proxy"). */
  readonly upstreamProxy?: () => UpstreamProxy | null;
}

interface PoolEntry {
  readonly key: string;
  readonly pool: Dispatcher;
  /** The route object and proxy settings the key was last computed for (a reload brings new ones). */
  readonly route: Route;
  readonly proxy: UpstreamProxy | null;
}

/**
 * Idle keep-alive settings shared by every upstream connection: 4 s without a hint; a
 * `Keep-Alive: timeout=N` hint is followed, less 1 s for transit (a hint of 1 s means
 * the connection is not reused), and never beyond 60 s.
 */
const KEEP_ALIVE = { keepAliveTimeout: 4_000, keepAliveTimeoutThreshold: 1_000, keepAliveMaxTimeout: 60_000 } as const;

/** Where a retry gets its fresh connection. */
export interface FreshConnections {
  /** Dispatch on a new one-off connection with the settings of `via`, the dispatcher of the failed attempt. */
  dispatchFresh(via: Dispatcher, origin: string, opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): void;
}

/** Per-route connection pools, rebuilt only when a route's origin or transport settings change. */
export class Upstreams implements FreshConnections {
  readonly #pools = new Map<string, PoolEntry>();
  /** Client options of each dispatcher, for one-off retry connections with the same settings. */
  readonly #clientOpts = new WeakMap<Dispatcher, UndiciClient.Options>();
  /** One-off retry clients still open (destroyed at the shutdown deadline). */
  readonly #oneOff = new Set<Client>();
  readonly #opts: UpstreamOptions;
  readonly #ca: string[] | undefined;
  #passthrough: Dispatcher | null = null;
  #passthroughKey = '';

  constructor(opts: UpstreamOptions) {
    this.#opts = opts;
    this.#ca = opts.extraCa === undefined ? undefined : [...rootCertificates, opts.extraCa];
  }

  /** The dispatcher for a route's upstream. */
  forRoute(route: Route): Dispatcher {
    const proxy = this.#opts.upstreamProxy?.() ?? null;
    const existing = this.#pools.get(route.name);
    // Every request asks: the same route object under the same proxy settings needs no key.
    if (existing !== undefined && existing.route === route && existing.proxy === proxy) return existing.pool;
    const u = route.upstream;
    const ep = proxy?.endpointFor(u.scheme, u.host, u.port);
    const key = `${u.origin}|${route.timeouts.connectMs}|${ep === undefined ? '' : JSON.stringify(ep)}`;
    if (existing !== undefined && existing.key === key) {
      this.#pools.set(route.name, { key, pool: existing.pool, route, proxy });
      return existing.pool;
    }
    const connect = {
      timeout: route.timeouts.connectMs,
      rejectUnauthorized: true,
      ...(this.#ca === undefined ? {} : { ca: this.#ca }),
    };
    const poolOpts = {
      ...KEEP_ALIVE,
      ...(this.#opts.keepAliveTimeoutMs === undefined ? {} : { keepAliveTimeout: this.#opts.keepAliveTimeoutMs }),
      headersTimeout: route.timeouts.headersMs,
      bodyTimeout: route.timeouts.idleMs,
    };
    let pool: Dispatcher;
    if (proxy === null || ep === undefined || u.scheme === 'https') {
      // Through the upstream proxy, https goes in a CONNECT tunnel with the same TLS options. The
      // connector is part of the settings, so a retry's fresh connection tunnels through the proxy too.
      const opts: UndiciClient.Options = {
        connect: proxy === null || ep === undefined ? connect : tunnelConnector(buildConnector(connect), proxy, ep, connect.timeout),
        ...poolOpts,
      };
      pool = new Pool(u.origin, { ...opts, factory: trackingClientFactory });
      this.#clientOpts.set(pool, opts);
    } else {
      // Plain http through the proxy, in absolute-form. Its connections are not tracked, so it is
      // never retried (proxy/retry needs a reused connection); a retry would fail closed anyway.
      pool = new AbsoluteForm(new Pool(UpstreamProxy.origin(ep), { connect: { timeout: connect.timeout }, ...poolOpts }), proxy, ep, null) as unknown as Dispatcher;
    }
    this.#pools.set(route.name, { key, pool, route, proxy });
    // A replaced pool finishes its in-flight requests, then closes (I13).
    if (existing !== undefined) void existing.pool.close().catch(() => undefined);
    return pool;
  }

  /** Close pools of routes that no longer exist after a reload. */
  retain(routeNames: ReadonlySet<string>): void {
    for (const [name, entry] of this.#pools) {
      if (!routeNames.has(name)) {
        this.#pools.delete(name);
        void entry.pool.close().catch(() => undefined);
      }
    }
  }

  /**
   * The gated dispatcher for passthrough hosts: no credentials, address-checked dials.
   * Rebuilt when `timeouts.passthrough.connect` changes (the old one finishes, then closes).
   */
  passthrough(connectMs: number): Dispatcher {
    const proxy = this.#opts.upstreamProxy?.() ?? null;
    const key = `${connectMs}|${proxy === null ? '' : proxyKey(proxy.settings)}`;
    if (this.#passthrough !== null && this.#passthroughKey === key) return this.#passthrough;
    if (this.#passthrough !== null) void this.#passthrough.close().catch(() => undefined);
    this.#passthroughKey = key;
    const base = buildConnector({ timeout: connectMs, rejectUnauthorized: true, ...(this.#ca ? { ca: this.#ca } : {}) });
    const gate = this.#opts.gate;
    const connect: Connector = (opts, cb) => {
      checkDestination(opts.hostname, Number(opts.port) || (opts.protocol === 'https:' ? 443 : 80), gate).then(
        (checked) => base({ ...opts, hostname: checked.address, servername: opts.servername ?? opts.hostname }, cb),
        (err: unknown) => cb(err as Error, null),
      );
    };
    const opts: UndiciClient.Options = { connect, ...KEEP_ALIVE };
    const direct = new Agent({ ...opts, factory: (origin, o) => new Pool(origin, { ...o, factory: trackingClientFactory }) });
    this.#clientOpts.set(direct, opts);
    const ep = proxy?.settings.http;
    this.#passthrough =
      proxy === null || ep === undefined
        ? direct
        : (new PassthroughSwitch(
            direct,
            new AbsoluteForm(new Pool(UpstreamProxy.origin(ep), { connect: { timeout: connectMs }, ...KEEP_ALIVE }), proxy, ep, gate),
            (host, port) => proxy.endpointFor('http', host, port) !== undefined,
          ) as unknown as Dispatcher);
    return this.#passthrough;
  }

  /** Does a request to `host:port` go through the upstream proxy (for the log and metrics)? */
  viaProxy(use: ProxyUse, host: string, port: number): boolean {
    return this.#opts.upstreamProxy?.()?.endpointFor(use, host, port) !== undefined;
  }

  dispatchFresh(via: Dispatcher, origin: string, opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): void {
    // Passthrough with an upstream proxy: the retry goes the way the first attempt went (never direct
    // instead of through the proxy); only the direct side has settings here.
    const picked = via instanceof PassthroughSwitch ? (via.pick(origin) as unknown as Dispatcher) : via;
    const settings = this.#clientOpts.get(picked);
    // Only a dispatcher built here has known settings (TLS verification, the address gate): fail closed otherwise.
    if (settings === undefined) return void handler.onError?.(new SidecarError('UPSTREAM_ERROR'));
    const client = new Client(origin, settings);
    this.#oneOff.add(client);
    client.dispatch(opts, handler);
    // close() lets the one request finish, then closes the connection.
    void client.close().finally(() => this.#oneOff.delete(client));
  }

  async close(): Promise<void> {
    const all: Array<Promise<void>> = [];
    for (const { pool } of this.#pools.values()) all.push(pool.close());
    if (this.#passthrough !== null) all.push(this.#passthrough.close());
    for (const c of this.#oneOff) all.push(c.close());
    this.#pools.clear();
    this.#passthrough = null;
    await Promise.allSettled(all);
  }

  /** Destroy every connection now (shutdown deadline). */
  async destroy(): Promise<void> {
    const all: Array<Promise<void>> = [];
    for (const { pool } of this.#pools.values()) all.push(pool.destroy());
    if (this.#passthrough !== null) all.push(this.#passthrough.destroy());
    for (const c of this.#oneOff) all.push(c.destroy());
    await Promise.allSettled(all);
  }
}

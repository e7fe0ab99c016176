/**
 * Forwarding: the one home of undici on the request path (STYLE 12, 14).
 *
 * One keep-alive Pool per route, built explicitly (never from proxy environment
 * variables, I7) with certificate verification on; one gated Agent for passthrough
 * whose connector resolves once, checks the address (I8) and dials exactly that
 * address. Requests go through `dispatch` with a small handler that streams both
 * ways with backpressure: no buffering, redirects never followed (I5), a client abort
 * cancels the upstream request and an upstream abort ends the client's response.
 * With an upstream (corporate) proxy configured, the same pools and agent reach their
 * origins through it (proxy/proxied.ts); the choice is made per origin, from no_proxy.
 * On credential routes the answer passes through the response guard on its way
 * (response-guard.ts): headers before they are written, each body chunk before it is.
 */
import { rootCertificates } from 'node:tls';
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { Agent, Pool, buildConnector, type Dispatcher } from 'undici';
import type { Route } from '../routing/route.js';
import { SidecarError } from '../errors.js';
import { checkDestination, type GateOptions } from '../egress/address-gate.js';
import { filterResponseHeaders } from './headers.js';
import { proxyKey, UpstreamProxy, type ProxyUse } from '../egress/upstream-proxy.js';
import { AbsoluteForm, PassthroughSwitch, tunnelConnector } from './proxied.js';
import type { ResponseGuard } from './response-guard.js';

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
}

/** Per-route connection pools, rebuilt only when a route's origin or transport settings change. */
export class Upstreams {
  readonly #pools = new Map<string, PoolEntry>();
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
    const u = route.upstream;
    const ep = proxy?.endpointFor(u.scheme, u.host, u.port);
    const key = `${u.origin}|${route.timeouts.connectMs}|${ep === undefined ? '' : JSON.stringify(ep)}`;
    const existing = this.#pools.get(route.name);
    if (existing !== undefined && existing.key === key) return existing.pool;
    const connect = {
      timeout: route.timeouts.connectMs,
      rejectUnauthorized: true,
      ...(this.#ca === undefined ? {} : { ca: this.#ca }),
    };
    const poolOpts = {
      keepAliveTimeout: this.#opts.keepAliveTimeoutMs ?? 4_000,
      headersTimeout: route.timeouts.headersMs,
      bodyTimeout: route.timeouts.idleMs,
    };
    let pool: Dispatcher;
    if (proxy === null || ep === undefined) pool = new Pool(u.origin, { connect, ...poolOpts });
    // Through the upstream proxy: https in a CONNECT tunnel with the same TLS options; http in absolute-form.
    else if (u.scheme === 'https') pool = new Pool(u.origin, { connect: tunnelConnector(buildConnector(connect), proxy, ep, connect.timeout), ...poolOpts });
    else pool = new AbsoluteForm(new Pool(UpstreamProxy.origin(ep), { connect: { timeout: connect.timeout }, ...poolOpts }), proxy, ep, null) as unknown as Dispatcher;
    this.#pools.set(route.name, { key, pool });
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
    const connect: buildConnector.connector = (opts, cb) => {
      checkDestination(opts.hostname, Number(opts.port) || (opts.protocol === 'https:' ? 443 : 80), gate).then(
        (checked) => base({ ...opts, hostname: checked.address, servername: opts.servername ?? opts.hostname }, cb),
        (err: unknown) => cb(err as Error, null),
      );
    };
    const direct = new Agent({ connect, keepAliveTimeout: 4_000 });
    const ep = proxy?.settings.http;
    this.#passthrough =
      proxy === null || ep === undefined
        ? direct
        : (new PassthroughSwitch(
            direct,
            new AbsoluteForm(new Pool(UpstreamProxy.origin(ep), { connect: { timeout: connectMs }, keepAliveTimeout: 4_000 }), proxy, ep, gate),
            (host, port) => proxy.endpointFor('http', host, port) !== undefined,
          ) as unknown as Dispatcher);
    return this.#passthrough;
  }

  /** Does a request to `host:port` go through the upstream proxy (for the log and metrics)? */
  viaProxy(use: ProxyUse, host: string, port: number): boolean {
    return this.#opts.upstreamProxy?.()?.endpointFor(use, host, port) !== undefined;
  }

  async close(): Promise<void> {
    const all: Array<Promise<void>> = [];
    for (const { pool } of this.#pools.values()) all.push(pool.close());
    if (this.#passthrough !== null) all.push(this.#passthrough.close());
    this.#pools.clear();
    this.#passthrough = null;
    await Promise.allSettled(all);
  }

  /** Destroy every connection now (shutdown deadline). */
  async destroy(): Promise<void> {
    const all: Array<Promise<void>> = [];
    for (const { pool } of this.#pools.values()) all.push(pool.destroy());
    if (this.#passthrough !== null) all.push(this.#passthrough.destroy());
    await Promise.allSettled(all);
  }
}

/** What the pipeline learns from a forward, for the canonical line and metrics. */
export interface ForwardObserver {
  /** Upstream answered with headers; `status` went to the agent. */
  onUpstreamHeaders(status: number): void;
  onBytesOut(n: number): void;
  /** The exchange ended: `err` null on a clean end. Called exactly once. */
  onDone(err: SidecarError | null): void;
}

export interface ForwardRequest {
  readonly dispatcher: Dispatcher;
  readonly origin: string;
  readonly path: string;
  readonly method: string;
  readonly headers: string[];
  /** The agent's request (or, after a tripwire search, its head replayed in front of the rest). */
  readonly body: Readable | null;
  readonly headersTimeoutMs: number;
  readonly idleTimeoutMs: number;
  /** Searches the answer for the injected credential (response-guard.ts); absent or null: not searched. */
  readonly guard?: ResponseGuard | null;
  /** Drop Set-Cookie from the answer (credential routes without keep_cookies, header-policy.ts). */
  readonly dropSetCookie?: boolean;
}

/** Map an undici/TLS/socket error to the catalogue. */
export function upstreamError(err: unknown): SidecarError {
  if (err instanceof SidecarError) return err;
  const code = (err as { code?: string } | null)?.code ?? '';
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
    case 'ETIMEDOUT':
      return new SidecarError('UPSTREAM_TIMEOUT', { cause: err });
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new SidecarError('UPSTREAM_UNREACHABLE', { cause: err });
    default:
      if (/CERT|SELF_SIGNED|TLS|SSL|UNABLE_TO_VERIFY|ALTNAME/i.test(code)) {
        return new SidecarError('UPSTREAM_TLS', { cause: err });
      }
      return new SidecarError('UPSTREAM_ERROR', { cause: err });
  }
}

/**
 * A legacy-style undici handler (the dispatcher's native interface, so no per-request
 * wrapper objects) that relays the upstream answer to `res` with backpressure.
 */
class RelayHandler {
  #abort: ((err?: Error) => void) | null = null;
  #finished = false;
  readonly #res: ServerResponse;
  readonly #obs: ForwardObserver;
  readonly #guard: ResponseGuard | null;
  readonly #dropSetCookie: boolean;
  #resume: (() => void) | null = null;
  readonly #onDrain = (): void => {
    const r = this.#resume;
    this.#resume = null;
    r?.();
  };

  constructor(res: ServerResponse, obs: ForwardObserver, guard: ResponseGuard | null, dropSetCookie: boolean) {
    this.#res = res;
    this.#obs = obs;
    this.#guard = guard;
    this.#dropSetCookie = dropSetCookie;
  }

  /** The agent went away: cancel the upstream request. */
  cancel(): void {
    if (this.#finished) return;
    const err = new SidecarError('UPSTREAM_ERROR', { message: 'client aborted' });
    if (this.#abort !== null) this.#abort(err);
    else this.#pendingCancel = true;
  }
  #pendingCancel = false;

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort;
    if (this.#pendingCancel) abort(new SidecarError('UPSTREAM_ERROR', { message: 'client aborted' }));
  }

  onHeaders(status: number, rawHeaders: Buffer[], resume: () => void): boolean {
    // 1xx informational answers are not relayed; the final answer follows.
    if (status < 200) return true;
    const res = this.#res;
    const headers = filterResponseHeaders(rawHeaders, this.#dropSetCookie);
    this.#obs.onUpstreamHeaders(status);
    // The guard masks reflected credentials in place, or withholds the answer (502, nothing written).
    if (this.#guard !== null && !this.#guard.headers(headers)) {
      this.#blocked();
      return false;
    }
    res.writeHead(status, headers);
    this.#resumeFn = resume;
    return true;
  }
  #resumeFn: (() => void) | null = null;

  onData(chunk: Buffer): boolean {
    const g = this.#guard;
    if (g === null) return this.#write(chunk);
    if (!g.inflating) {
      const out = g.body(chunk);
      if (out === null) {
        this.#blocked();
        return false;
      }
      return out.length === 0 || this.#write(out);
    }
    // Compressed: the upstream stays paused until the inflated copy of this chunk is searched.
    let sync = true;
    let flowing = false;
    g.bodyAsync(chunk, (out) => {
      if (this.#finished) return;
      if (out === null) return this.#blocked();
      const ok = out.length === 0 || this.#write(out);
      // A verdict given at once is this call's answer; a later one resumes the paused upstream.
      if (sync) flowing = ok;
      else if (ok) this.#resumeFn?.();
    });
    sync = false;
    return flowing;
  }

  /** Write to the agent; false (after arranging a resume on drain) under backpressure. */
  #write(chunk: Buffer): boolean {
    this.#obs.onBytesOut(chunk.length);
    if (this.#res.write(chunk)) return true;
    // Backpressure: pause the upstream until the agent drains.
    this.#resume = this.#resumeFn;
    this.#res.once('drain', this.#onDrain);
    return false;
  }

  /** The guard withheld the answer: end the exchange, never writing the secret's bytes. */
  #blocked(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#guard?.close();
    const err = new SidecarError('RESPONSE_BLOCKED');
    this.#abort?.(err);
    this.#obs.onDone(err);
  }

  onComplete(): void {
    if (this.#finished) return;
    const g = this.#guard;
    // A compressed body may still have chunks waiting for their verdict: end after them.
    if (g?.inflating === true) g.endAsync((rest) => this.#complete(rest));
    else this.#complete(g?.end() ?? null);
  }

  #complete(rest: Buffer | null): void {
    if (this.#finished) return;
    this.#finished = true;
    if (rest !== null && rest.length > 0) {
      this.#obs.onBytesOut(rest.length);
      this.#res.end(rest);
    } else {
      this.#res.end();
    }
    this.#obs.onDone(null);
  }

  onError(err: Error): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#guard?.close();
    const e = upstreamError(err);
    this.#obs.onDone(e);
  }

  onUpgrade(): void {
    // Upgrades are dispatched by the WebSocket path, never through this handler.
  }

  onBodySent(): void {}
}

/** The forward stage's contract: dispatch, relay to `res`, report to `obs`; returns a canceller. */
export type ForwardStage = (req: ForwardRequest, res: ServerResponse, obs: ForwardObserver) => () => void;

/** Dispatch one request upstream. Returns a canceller for when the agent goes away. */
export function forward(req: ForwardRequest, res: ServerResponse, obs: ForwardObserver): () => void {
  const handler = new RelayHandler(res, obs, req.guard ?? null, req.dropSetCookie ?? false);
  req.dispatcher.dispatch(
    {
      origin: req.origin,
      path: req.path,
      method: req.method as Dispatcher.HttpMethod,
      headers: req.headers,
      body: req.body,
      headersTimeout: req.headersTimeoutMs,
      bodyTimeout: req.idleTimeoutMs,
      // Agents' POSTs are not idempotent; never let undici replay them on a fresh socket.
      idempotent: req.method === 'GET' || req.method === 'HEAD',
    },
    handler as unknown as Dispatcher.DispatchHandler,
  );
  return () => handler.cancel();
}

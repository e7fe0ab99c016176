/**
 * Forwarding: the one home of undici on the request path (STYLE 12, 14).
 *
 * One keep-alive Pool per route, built explicitly (never from proxy environment
 * variables, I7) with certificate verification on; one gated Agent for passthrough
 * whose connector resolves once, checks the address (I8) and dials exactly that
 * address. Requests go through `dispatch` with a small handler that streams both
 * ways with backpressure: no buffering, redirects never followed (I5), a client abort
 * cancels the upstream request and an upstream abort ends the client's response.
 */
import { rootCertificates } from 'node:tls';
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { Agent, Pool, buildConnector, type Connector, type Dispatcher } from '../undici-core.js';
import type { Route } from '../config/types.js';
import { SidecarError } from '../errors.js';
import { checkDestination, type GateOptions } from './address-gate.js';
import { filterResponseHeaders } from './headers.js';

export interface UpstreamOptions {
  /** Extra PEM trusted for upstream TLS in addition to the public roots (tests, private CAs). */
  readonly extraCa: string | undefined;
  readonly keepAliveTimeoutMs?: number;
  readonly gate: GateOptions;
}

interface PoolEntry {
  readonly key: string;
  readonly pool: Pool;
}

/** Per-route connection pools, rebuilt only when a route's origin or transport settings change. */
export class Upstreams {
  readonly #pools = new Map<string, PoolEntry>();
  readonly #opts: UpstreamOptions;
  readonly #ca: string[] | undefined;
  #passthrough: Agent | null = null;

  constructor(opts: UpstreamOptions) {
    this.#opts = opts;
    this.#ca = opts.extraCa === undefined ? undefined : [...rootCertificates, opts.extraCa];
  }

  /** The dispatcher for a route's upstream. */
  forRoute(route: Route): Dispatcher {
    const key = `${route.upstream.origin}|${route.timeouts.connectMs}`;
    const existing = this.#pools.get(route.name);
    if (existing !== undefined && existing.key === key) return existing.pool;
    const pool = new Pool(route.upstream.origin, {
      connect: {
        timeout: route.timeouts.connectMs,
        rejectUnauthorized: true,
        ...(this.#ca === undefined ? {} : { ca: this.#ca }),
      },
      keepAliveTimeout: this.#opts.keepAliveTimeoutMs ?? 4_000,
      headersTimeout: route.timeouts.headersMs,
      bodyTimeout: route.timeouts.idleMs,
    });
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

  /** The gated dispatcher for passthrough hosts: no credentials, address-checked dials. */
  passthrough(): Dispatcher {
    if (this.#passthrough !== null) return this.#passthrough;
    const base = buildConnector({ timeout: 10_000, rejectUnauthorized: true, ...(this.#ca ? { ca: this.#ca } : {}) });
    const gate = this.#opts.gate;
    const connect: Connector = (opts, cb) => {
      checkDestination(opts.hostname, Number(opts.port) || (opts.protocol === 'https:' ? 443 : 80), gate).then(
        (checked) => base({ ...opts, hostname: checked.address, servername: opts.servername ?? opts.hostname }, cb),
        (err: unknown) => cb(err as Error, null),
      );
    };
    this.#passthrough = new Agent({ connect, keepAliveTimeout: 4_000 });
    return this.#passthrough;
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
  #resume: (() => void) | null = null;
  readonly #onDrain = (): void => {
    const r = this.#resume;
    this.#resume = null;
    r?.();
  };

  constructor(res: ServerResponse, obs: ForwardObserver) {
    this.#res = res;
    this.#obs = obs;
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
    res.writeHead(status, filterResponseHeaders(rawHeaders));
    this.#obs.onUpstreamHeaders(status);
    this.#resumeFn = resume;
    return true;
  }
  #resumeFn: (() => void) | null = null;

  onData(chunk: Buffer): boolean {
    this.#obs.onBytesOut(chunk.length);
    if (this.#res.write(chunk)) return true;
    // Backpressure: pause the upstream until the agent drains.
    this.#resume = this.#resumeFn;
    this.#res.once('drain', this.#onDrain);
    return false;
  }

  onComplete(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#res.end();
    this.#obs.onDone(null);
  }

  onError(err: Error): void {
    if (this.#finished) return;
    this.#finished = true;
    const e = upstreamError(err);
    this.#obs.onDone(e);
  }

  onUpgrade(): void {
    // Upgrades are dispatched by the WebSocket path, never through this handler.
  }

  onBodySent(): void {}
}

/** Dispatch one request upstream. Returns a canceller for when the agent goes away. */
export function forward(req: ForwardRequest, res: ServerResponse, obs: ForwardObserver): () => void {
  const handler = new RelayHandler(res, obs);
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

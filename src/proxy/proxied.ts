/**
 * Sending upstream through the upstream (corporate) proxy: the three shapes upstreams.ts
 * plugs into its undici dispatchers (it builds the pools; this module only decides and
 * relays, so undici stays imported in one place).
 *
 *   tunnelConnector   https:// upstreams: the pool's connector opens a CONNECT tunnel
 *                     (egress/upstream-proxy) and layers undici's own TLS connector over
 *                     it, so servername, certificate verification against the real host
 *                     and the CA options are exactly those of a direct connection.
 *   AbsoluteForm      plain http:// upstreams: the request goes to a pool on the proxy
 *                     with an absolute-form target and the proxy credential added.
 *   PassthroughSwitch allow-listed plain-http hosts: per request, direct (gated dial) or
 *                     through the proxy (gated as egress/via-proxy says).
 *
 * Why not undici's ProxyAgent: its errors do not say which hop failed (a 407 from the
 * proxy and a refused upstream look alike), it cannot take Proxy-Authorization from the
 * vault per tunnel (nor drop it on 407), it knows no no_proxy, and it would bypass the
 * address gate. The pieces here are small and keep every one of those decisions ours.
 */
import type { Dispatcher, buildConnector } from 'undici';
import type { ProxyEndpoint } from '../config/types.js';
import type { GateOptions } from '../egress/address-gate.js';
import type { UpstreamProxy } from '../egress/upstream-proxy.js';
import { gateViaProxy } from '../egress/via-proxy.js';
import { SidecarError, toSidecarError } from '../errors.js';

/** A connector for a route pool whose https upstream is reached through `ep`. */
export function tunnelConnector(base: buildConnector.connector, proxy: UpstreamProxy, ep: ProxyEndpoint, timeoutMs: number): buildConnector.connector {
  return (opts, cb) => {
    const port = Number(opts.port) || (opts.protocol === 'https:' ? 443 : 80);
    proxy.tunnel(ep, bare(opts.hostname), port, timeoutMs).then(
      (socket) => base({ ...opts, httpSocket: socket }, cb),
      (err: unknown) => cb(err as Error, null),
    );
  };
}

/** `[::1]` → `::1`: undici hands over URL hostnames. */
function bare(hostname: string): string {
  return hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
}

/** Socket errors on the pool to the proxy can only be about the proxy. */
const PROXY_UNREACHABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);

/** The minimum of undici's Dispatcher the pipeline and the WebSocket stage use. */
interface Sendable {
  dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean;
  close(): Promise<void>;
  destroy(): Promise<void>;
}

/**
 * Plain-http requests through the proxy in absolute-form (RFC 9112 §3.2.2). `gate`
 * set: the destination is checked first (passthrough); unset: a configured route.
 */
export class AbsoluteForm implements Sendable {
  constructor(
    private readonly pool: Dispatcher,
    private readonly proxy: UpstreamProxy,
    private readonly ep: ProxyEndpoint,
    private readonly gate: GateOptions | null,
  ) {}

  dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    void this.#send(opts, handler as unknown as LegacyHandler);
    return true;
  }

  async #send(opts: Dispatcher.DispatchOptions, handler: LegacyHandler): Promise<void> {
    try {
      const origin = String(opts.origin);
      const url = new URL(origin);
      if (this.gate !== null) await gateViaProxy(bare(url.hostname), Number(url.port) || 80, this.gate);
      this.proxy.checkNotSelf(this.ep);
      const auth = await this.proxy.authorization(this.ep);
      // The agent's Proxy-Authorization was stripped already (I6); ours is the only one.
      const headers = stripProxyAuth(opts.headers as string[] | undefined);
      if (auth !== undefined) {
        // A value with CR/LF is not a credential; never let it reach the wire (undici would throw).
        if (/[\r\n]/.test(auth.reveal())) throw new SidecarError('UPSTREAM_PROXY_ERROR', { message: 'The upstream proxy credential is not usable; the request was not sent.' });
        headers.push('proxy-authorization', auth.reveal());
      }
      const watch = new ProxyAnswerWatch(handler, () => this.proxy.forget(this.ep));
      this.pool.dispatch({ ...opts, headers, path: `${origin}${opts.path}` }, watch as unknown as Dispatcher.DispatchHandler);
    } catch (err) {
      handler.onError(toSidecarError(err));
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  destroy(): Promise<void> {
    return this.pool.destroy();
  }
}

function stripProxyAuth(h: string[] | undefined): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < (h?.length ?? 0); i += 2) if (h![i]!.toLowerCase() !== 'proxy-authorization') out.push(h![i]!, h![i + 1]!);
  return out;
}

interface LegacyHandler {
  onConnect(abort: (err?: Error) => void): void;
  onHeaders(status: number, raw: Buffer[], resume: () => void, statusText?: string): boolean;
  onData(chunk: Buffer): boolean;
  onComplete(trailers: Buffer[] | null): void;
  onError(err: Error): void;
  onUpgrade?(status: number, raw: Buffer[], socket: unknown): void;
  onBodySent?(chunk: unknown): void;
}

/**
 * Relays a handler's events, except that a 407 (only ever the proxy's) becomes
 * UPSTREAM_PROXY_AUTH and drops the kept credential, and a failure to reach the proxy
 * is named as such. Other answers are relayed as they come: a 403 or 502 from the proxy
 * cannot be told from the upstream's own over absolute-form.
 */
class ProxyAnswerWatch implements LegacyHandler {
  #abort: ((err?: Error) => void) | null = null;

  constructor(
    private readonly inner: LegacyHandler,
    private readonly onAuthRequired: () => void,
  ) {}

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort;
    this.inner.onConnect(abort);
  }

  onHeaders(status: number, raw: Buffer[], resume: () => void, statusText?: string): boolean {
    if (status === 407) {
      this.onAuthRequired();
      this.#abort?.(new SidecarError('UPSTREAM_PROXY_AUTH'));
      return false;
    }
    return this.inner.onHeaders(status, raw, resume, statusText);
  }

  onData(chunk: Buffer): boolean {
    return this.inner.onData(chunk);
  }

  onComplete(trailers: Buffer[] | null): void {
    this.inner.onComplete(trailers);
  }

  onError(err: Error): void {
    const code = (err as { code?: string }).code ?? '';
    this.inner.onError(PROXY_UNREACHABLE.has(code) ? new SidecarError('UPSTREAM_PROXY_UNREACHABLE', { cause: err }) : err);
  }

  onUpgrade(status: number, raw: Buffer[], socket: unknown): void {
    this.inner.onUpgrade?.(status, raw, socket);
  }

  onBodySent(chunk: unknown): void {
    this.inner.onBodySent?.(chunk);
  }
}

/** Passthrough (allow-listed plain-http hosts): per request, direct or through the proxy. */
export class PassthroughSwitch implements Sendable {
  constructor(
    private readonly direct: Dispatcher,
    private readonly proxied: AbsoluteForm,
    private readonly useProxy: (host: string, port: number) => boolean,
  ) {}

  dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    return this.pick(String(opts.origin)).dispatch(opts, handler);
  }

  /** The side a request to `origin` takes (a retry takes the same one). */
  pick(origin: string): Sendable {
    const url = new URL(origin);
    return this.useProxy(bare(url.hostname), Number(url.port) || 80) ? this.proxied : this.direct;
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.direct.close(), this.proxied.close()]);
  }

  async destroy(): Promise<void> {
    await Promise.allSettled([this.direct.destroy(), this.proxied.destroy()]);
  }
}

/**
 * The upstream (corporate) proxy at run time: which destinations go through it, the
 * Proxy-Authorization it needs, and tunnels through it (README "Corporate proxy").
 *
 * - Choice: https:// upstreams and CONNECT byte tunnels use the `https` proxy (CONNECT,
 *   then TLS or the agent's bytes end to end); plain http:// uses the `http` proxy in
 *   absolute-form. `no_proxy` destinations go direct (routing/no-proxy).
 * - Credential: Basic, from a vault path (`use`/`http_header`, header_type basic, asked
 *   with the sidecar's own vault identity), from an environment variable holding
 *   `user:pass`, or from the user:pass of an HTTPS_PROXY-style URL. Values are Secrets;
 *   a vault value is kept five minutes (one call for many tunnels, single-flight) and
 *   dropped as soon as the proxy answers 407, after which one fresh attempt is made.
 *   Without the credential nothing is sent to the proxy (fail closed, I11).
 * - Loop guard: a proxy address that is one of the sidecar's own listeners or the vault
 *   is refused (HTTPS_PROXY inherited from an agent's environment would do that).
 *
 * The proxy's own address is not put through the address gate: it is configured, and
 * usually private. The destinations it is asked to reach are (egress/via-proxy.ts).
 */
import type { Socket } from 'node:net';
import type { HostPort, ProxyCredential, ProxyEndpoint, UpstreamProxySettings } from '../config/types.js';
import type { CredentialSource } from '../credentials/resolver.js';
import { Secret } from '../credentials/secret.js';
import { SidecarError, toSidecarError } from '../errors.js';
import { bypassesProxy } from '../routing/no-proxy.js';
import { hostForUrl } from '../routing/host.js';
import { isOwnEndpoint } from './address-gate.js';
import { ProxyHopFailure, proxyConnect, proxyHopError, type ProxyConnectResult } from './proxy-connect.js';
import { parseProxyUrl } from '../config/upstream-proxy.js';

export interface UpstreamProxyDeps {
  /** The vault session holding the proxy credential: the sidecar's own (top-level) identity. */
  readonly vault: () => CredentialSource;
  readonly env: NodeJS.ProcessEnv;
  /** The sidecar's listeners and the vault. */
  readonly ownEndpoints: () => ReadonlyArray<HostPort>;
  /** Every CONNECT to the proxy, by result (metrics). */
  readonly onConnect?: (result: ProxyConnectResult) => void;
}

/** Which kind of traffic asks: https upstreams and byte tunnels use CONNECT; http uses absolute-form. */
export type ProxyUse = 'https' | 'tunnel' | 'http';

const VAULT_CREDENTIAL_TTL_MS = 5 * 60_000;

interface Cached {
  readonly value: Secret;
  readonly expiresAt: number;
}

export class UpstreamProxy {
  readonly settings: UpstreamProxySettings;
  readonly #d: UpstreamProxyDeps;
  readonly #cache = new Map<string, Cached>();
  readonly #inflight = new Map<string, Promise<Secret>>();

  constructor(settings: UpstreamProxySettings, deps: UpstreamProxyDeps) {
    this.settings = settings;
    this.#d = deps;
  }

  /** The proxy for a destination, or undefined when it goes direct. */
  endpointFor(use: ProxyUse, host: string, port: number): ProxyEndpoint | undefined {
    const ep = use === 'http' ? this.settings.http : this.settings.https;
    if (ep === undefined || bypassesProxy(this.settings.noProxy, host, port)) return undefined;
    return ep;
  }

  /** `http://host:port` of an endpoint, for undici's pool to it. */
  static origin(ep: ProxyEndpoint): string {
    return `http://${hostForUrl(ep.host)}:${ep.port}`;
  }

  /** The Proxy-Authorization value for `ep` (undefined: it needs none). Rejects with a catalogued error. */
  async authorization(ep: ProxyEndpoint): Promise<Secret | undefined> {
    const c = ep.credential;
    if (c === undefined) return undefined;
    const key = credentialKey(c);
    const hit = this.#cache.get(key);
    if (hit !== undefined && hit.expiresAt > Date.now()) return hit.value;
    const pending = this.#inflight.get(key);
    if (pending !== undefined) return pending;
    const call = this.#fetch(c).finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, call);
    const value = await call;
    this.#cache.set(key, { value, expiresAt: Date.now() + (c.kind === 'vault' ? VAULT_CREDENTIAL_TTL_MS : Number.MAX_SAFE_INTEGER) });
    return value;
  }

  /** The proxy said 407: drop the kept credential so the next attempt asks again. */
  forget(ep: ProxyEndpoint): void {
    if (ep.credential !== undefined) this.#cache.delete(credentialKey(ep.credential));
  }

  async #fetch(c: ProxyCredential): Promise<Secret> {
    switch (c.kind) {
      case 'vault':
        try {
          const h = await this.#d.vault().useHttpHeader(c.path, { headerType: 'basic' });
          return h.headerValue;
        } catch (err) {
          throw toSidecarError(err);
        }
      case 'env': {
        const v = this.#d.env[c.variable];
        if (v === undefined || !v.includes(':')) throw misconfigured(`${c.variable} does not hold user:password`);
        return basic(v);
      }
      case 'proxy_url': {
        const p = parseProxyUrl(this.#d.env[c.variable] ?? '', true);
        if (!p.ok || p.userinfo === undefined) throw misconfigured(`${c.variable} no longer carries user:pass`);
        const colon = p.userinfo.indexOf(':');
        return basic(`${decodeURIComponent(p.userinfo.slice(0, colon))}:${decodeURIComponent(p.userinfo.slice(colon + 1))}`);
      }
    }
  }

  /** Refuse a proxy address that is the sidecar itself or its vault (a loop). */
  checkNotSelf(ep: ProxyEndpoint): void {
    const host = ep.host === 'localhost' ? '127.0.0.1' : ep.host;
    if (isOwnEndpoint(host, ep.port, this.#d.ownEndpoints())) {
      throw new SidecarError('UPSTREAM_PROXY_ERROR', {
        message: "The upstream proxy is configured as the sidecar's own listener or its vault; the request was not sent.",
        cause: new ProxyHopFailure('error', `${hostForUrl(ep.host)}:${ep.port}`, null, `${ep.from} points at the sidecar itself`),
      });
    }
  }

  /**
   * A tunnel to `host:port` through `ep`. A 407 while a kept credential was used drops it
   * and retries once with a fresh one (a rotated password). Rejects with a catalogued error.
   */
  async tunnel(ep: ProxyEndpoint, host: string, port: number, timeoutMs: number): Promise<Socket> {
    this.checkNotSelf(ep);
    const authority = `${hostForUrl(host)}:${port}`;
    for (let attempt = 0; ; attempt++) {
      const authorization = await this.authorization(ep);
      try {
        const socket = await proxyConnect({ proxyHost: ep.host, proxyPort: ep.port, authority, authorization, timeoutMs });
        this.#d.onConnect?.('ok');
        return socket;
      } catch (err) {
        if (!(err instanceof ProxyHopFailure)) throw err;
        this.#d.onConnect?.(err.result);
        if (err.result === 'auth_required' && ep.credential !== undefined) {
          this.forget(ep);
          if (attempt === 0) continue;
        }
        throw proxyHopError(err);
      }
    }
  }
}

function credentialKey(c: ProxyCredential): string {
  return `${c.kind}\u0000${c.kind === 'vault' ? c.path : c.variable}`;
}

function basic(userPass: string): Secret {
  return new Secret(`Basic ${Buffer.from(userPass, 'utf8').toString('base64')}`);
}

function misconfigured(detail: string): SidecarError {
  return new SidecarError('UPSTREAM_PROXY_ERROR', {
    message: 'The upstream proxy credential is not available; the request was not sent.',
    cause: new Error(detail),
  });
}

/**
 * One UpstreamProxy per distinct settings, so a reload that leaves them unchanged keeps
 * the kept credential and the pools built on it; `current` follows the snapshot.
 */
export class UpstreamProxies {
  #last: { key: string; proxy: UpstreamProxy } | null = null;

  constructor(private readonly deps: UpstreamProxyDeps) {}

  current(settings: UpstreamProxySettings | undefined): UpstreamProxy | null {
    if (settings === undefined || (settings.https === undefined && settings.http === undefined)) return null;
    const key = proxyKey(settings);
    if (this.#last?.key !== key) this.#last = { key, proxy: new UpstreamProxy(settings, this.deps) };
    return this.#last.proxy;
  }
}

/** Identity of the effective settings (what pools built on a proxy must be rebuilt for). */
export function proxyKey(s: UpstreamProxySettings): string {
  return JSON.stringify([s.https, s.http, s.noProxy]);
}

/**
 * Credential resolution: route → the one header to inject.
 *
 * Wraps a `CredentialSource` (the vault client, or a fake in tests) with a per-route
 * TTL cache and single-flight: concurrent misses for the same credential share one
 * vault call whatever the TTL, so 100 simultaneous requests make one call. With
 * `cache_ttl: 0` (the default) nothing is kept after the call settles. Failures are
 * never cached and never fall back to anything the agent sent (I11).
 */
import type { InjectSpec } from '../routing/route.js';
import type { Secret } from './secret.js';

/** Anything that can produce a credential header (STYLE 9: named by role). */
export interface CredentialSource {
  useHttpHeader(path: string, spec: { headerType: InjectSpec['headerType']; headerName?: string }): Promise<{
    headerName: string;
    headerValue: Secret;
  }>;
}

export interface ResolvedHeader {
  /** Lowercase. */
  readonly name: string;
  readonly value: Secret;
}

export type CacheEvent = 'hit' | 'miss' | 'coalesced';

export interface ResolveRequest {
  readonly path: string;
  readonly inject: InjectSpec;
  readonly ttlMs: number;
  /** Cache scope: the agent in gateway mode, '' for the single-agent sidecar. */
  readonly scope: string;
}

interface Entry {
  readonly header: ResolvedHeader;
  readonly expiresAt: number;
}

export interface Resolution {
  readonly header: ResolvedHeader;
  readonly event: CacheEvent;
}

export class CredentialResolver {
  readonly #cache = new Map<string, Entry>();
  readonly #inflight = new Map<string, Promise<ResolvedHeader>>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /**
   * Resolve synchronously from the cache when possible (the hot path allocates no promise),
   * otherwise return a promise shared by every concurrent caller for the same key.
   */
  lookup(req: ResolveRequest): Resolution | null {
    if (req.ttlMs <= 0) return null;
    const entry = this.#cache.get(keyOf(req));
    if (entry === undefined) return null;
    if (entry.expiresAt > this.#now()) return { header: entry.header, event: 'hit' };
    this.#cache.delete(keyOf(req));
    return null;
  }

  /** Ask the source, coalescing concurrent misses. `event` says whether this caller started the call. */
  async resolve(source: CredentialSource, req: ResolveRequest): Promise<Resolution> {
    const cached = this.lookup(req);
    if (cached !== null) return cached;
    const key = keyOf(req);
    const pending = this.#inflight.get(key);
    if (pending !== undefined) return { header: await pending, event: 'coalesced' };

    const call = (async (): Promise<ResolvedHeader> => {
      const spec =
        req.inject.headerName === undefined
          ? { headerType: req.inject.headerType }
          : { headerType: req.inject.headerType, headerName: req.inject.headerName };
      const r = await source.useHttpHeader(req.path, spec);
      return { name: r.headerName.toLowerCase(), value: r.headerValue };
    })();
    this.#inflight.set(key, call);
    try {
      const header = await call;
      if (req.ttlMs > 0) this.#cache.set(key, { header, expiresAt: this.#now() + req.ttlMs });
      return { header, event: 'miss' };
    } finally {
      this.#inflight.delete(key);
    }
  }

  /** Drop cached entries (on reload, or when an agent is removed). */
  clear(scope?: string): void {
    if (scope === undefined) {
      this.#cache.clear();
      return;
    }
    const prefix = `${scope}\u0000`;
    for (const k of this.#cache.keys()) if (k.startsWith(prefix)) this.#cache.delete(k);
  }

  get size(): number {
    return this.#cache.size;
  }
}

function keyOf(req: ResolveRequest): string {
  return `${req.scope}\u0000${req.path}\u0000${req.inject.headerType}\u0000${req.inject.headerName ?? ''}`;
}

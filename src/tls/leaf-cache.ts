/**
 * Leaf certificates for intercepted hosts: minted on first use, signed by the CA,
 * kept in memory only (never on disk) as ready TLS contexts, and replaced a day
 * before they expire. The cache is bounded; the oldest entry goes first.
 */
import { createSecureContext, type SecureContext } from 'node:tls';
import { createLeaf, type Issuer } from './x509.js';

interface Entry {
  readonly context: SecureContext;
  readonly renewAt: number;
}

export interface LeafCacheOptions {
  /** Leaf validity in days (short by design). */
  readonly days?: number;
  readonly maxEntries?: number;
  readonly now?: () => number;
}

const DAY_MS = 86_400_000;

export class LeafCache {
  readonly #issuer: Issuer;
  readonly #entries = new Map<string, Entry>();
  readonly #days: number;
  readonly #max: number;
  readonly #now: () => number;
  #minted = 0;

  constructor(issuer: Issuer, opts: LeafCacheOptions = {}) {
    this.#issuer = issuer;
    this.#days = opts.days ?? 7;
    this.#max = opts.maxEntries ?? 1000;
    this.#now = opts.now ?? Date.now;
  }

  /** How many leaves were minted (tests: generated once, then cached). */
  get minted(): number {
    return this.#minted;
  }

  /** The TLS context presenting a leaf for `host` (a canonical host from the CONNECT target). */
  contextFor(host: string): SecureContext {
    const now = this.#now();
    const hit = this.#entries.get(host);
    if (hit !== undefined && hit.renewAt > now) return hit.context;
    const leaf = createLeaf(host, this.#issuer, { days: this.#days, now: new Date(now) });
    this.#minted += 1;
    const context = createSecureContext({ key: leaf.keyPem, cert: leaf.certPem, minVersion: 'TLSv1.2' });
    const renewAt = leaf.notAfter.getTime() - Math.min(DAY_MS, (this.#days * DAY_MS) / 2);
    this.#entries.delete(host);
    if (this.#entries.size >= this.#max) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(host, { context, renewAt });
    return context;
  }
}

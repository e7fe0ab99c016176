/**
 * Vault sessions per identity (gateway mode, I14): one client per agent name + key file
 * (+ endpoint and timeout), created on the first request that needs it, shared by every
 * agent with that identity, and closed once a reload leaves no agent using it. The
 * top-level `vault:` identity is not pooled: the composition root owns that client
 * (readiness follows it) and agents without their own `vault:` use it.
 *
 * A session that cannot be created (unreadable key file) fails the request with
 * VAULT_AUTH_FAILED and is retried on the next one; the cause goes to the log only.
 */
import type { VaultSettings } from '../config/types.js';
import { SidecarError } from '../errors.js';
import type { VaultClient } from './client.js';

/** What the pipeline calls on a session (STYLE 9). */
export type VaultSource = Pick<VaultClient, 'useHttpHeader' | 'useHttpRequest'>;

class Session {
  readonly source: VaultSource;
  #client: Promise<VaultClient> | null = null;
  #live: VaultClient | null = null;
  #closed = false;

  constructor(
    readonly settings: VaultSettings,
    private readonly create: (s: VaultSettings) => Promise<VaultClient>,
    private readonly onError: (settings: VaultSettings, err: unknown) => void,
  ) {
    // Built once per session, so a request allocates no wrapper.
    this.source = {
      useHttpHeader: async (path, spec) => (await this.client()).useHttpHeader(path, spec),
      useHttpRequest: async (path, req) => (await this.client()).useHttpRequest(path, req),
    };
  }

  get live(): VaultClient | null {
    return this.#live;
  }

  client(): Promise<VaultClient> {
    if (this.#closed) return Promise.reject(new SidecarError('VAULT_UNAVAILABLE', { message: 'The vault session was closed.' }));
    this.#client ??= this.create(this.settings).then(
      (c) => {
        if (this.#closed) {
          void c.close();
          throw new SidecarError('VAULT_UNAVAILABLE', { message: 'The vault session was closed.' });
        }
        c.start();
        this.#live = c;
        return c;
      },
      (err: unknown) => {
        this.#client = null;
        this.onError(this.settings, err);
        throw new SidecarError('VAULT_AUTH_FAILED', { cause: err });
      },
    );
    return this.#client;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#live?.close();
  }
}

export class VaultPool {
  readonly #sessions = new Map<string, Session>();
  readonly #retired = new Set<Session>();
  readonly #create: (s: VaultSettings) => Promise<VaultClient>;
  readonly #onError: (settings: VaultSettings, err: unknown) => void;

  /** `create` builds an unstarted client for an identity; `onError` hears why one could not be built. */
  constructor(create: (s: VaultSettings) => Promise<VaultClient>, onError: (settings: VaultSettings, err: unknown) => void) {
    this.#create = create;
    this.#onError = onError;
  }

  /** The session for `key` (see gateway/agents `vaultKeyOf`), created lazily. */
  source(key: string, settings: VaultSettings): VaultSource {
    let s = this.#sessions.get(key);
    if (s === undefined) {
      s = new Session(settings, this.#create, this.#onError);
      this.#sessions.set(key, s);
    }
    return s.source;
  }

  /** The connected client of `key`, if its session has started (admin, tests). */
  client(key: string): VaultClient | null {
    return this.#sessions.get(key)?.live ?? null;
  }

  /** After a reload: close the sessions of identities no agent uses, once in-flight calls had `graceMs`. */
  retain(keys: ReadonlySet<string>, graceMs: number): void {
    for (const [key, s] of this.#sessions) {
      if (keys.has(key)) continue;
      this.#sessions.delete(key);
      this.#retired.add(s);
      setTimeout(() => {
        this.#retired.delete(s);
        void s.close();
      }, graceMs).unref();
    }
  }

  /** Close every session now (shutdown), including those waiting out their grace. */
  async close(): Promise<void> {
    const all = [...this.#sessions.values(), ...this.#retired].map((s) => s.close());
    this.#sessions.clear();
    this.#retired.clear();
    await Promise.all(all);
  }
}

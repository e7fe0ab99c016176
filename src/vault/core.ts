/**
 * The engine of the vault client: one connection, many calls in flight matched by
 * id; a background loop that connects, authenticates and reconnects with
 * exponential backoff and full jitter until close(). `client.ts` adds the typed
 * methods on top; this file knows nothing of operations.
 *
 * It fails closed and fast: while the last attempt has failed, calls reject at once
 * with VaultUnavailableError instead of queueing; while (re)connecting they wait, but
 * never past their own timeout. SESSION_EXPIRED is handled here, invisibly: the
 * handshake runs again on the same connection and the call is retried once.
 *
 * The seed and the session live in #private fields, so util.inspect shows neither.
 */
import { performance } from 'node:perf_hooks';
import type { Socket } from 'node:net';
import { inspect } from 'node:util';
import { authenticate } from './auth.js';
import { connectSocket, describeEndpoint, VaultConnection, type VaultEndpoint } from './connection.js';
import { ReadyGate } from './gate.js';
import { VaultError, VaultLeaseError, VaultSessionExpiredError, VaultTimeoutError, VaultUnavailableError } from './errors.js';

/** A connection that lived this long counts as stable: losing it reconnects at once. */
const STABLE_MS = 1000;

export type VaultStatus = 'connecting' | 'ready' | 'failed' | 'closed';
export type VaultState = { status: VaultStatus; reason?: string; since: number };

export type VaultClientEvent =
  | { type: 'state'; state: VaultState }
  | { type: 'call'; method: string; operation?: string; ok: boolean; code?: string; ms: number }
  /** The vault said something off-protocol (unknown id, bad frame); for logs. */
  | { type: 'protocol'; message: string };

export interface VaultClientOptions {
  endpoint: VaultEndpoint;
  agent: string;
  /** The 32-byte Ed25519 seed, from loadKeyFile. The client keeps its own copy. */
  seed: Uint8Array;
  /** Per call, including any wait for the connection and one invisible retry. Default 2000. */
  callTimeoutMs?: number;
  /** Per connection attempt, including the handshake. Default 2000. */
  connectTimeoutMs?: number;
  /** Reconnect delays: exponential from initialMs to maxMs, full jitter. Default 100..5000. */
  backoff?: { initialMs?: number; maxMs?: number };
  onEvent?: (e: VaultClientEvent) => void;
}

export class VaultCore {
  readonly #endpoint: VaultEndpoint;
  readonly #agent: string;
  readonly #seed: Uint8Array;
  readonly #callTimeoutMs: number;
  readonly #connectTimeoutMs: number;
  readonly #backoffInitial: number;
  readonly #backoffMax: number;
  readonly #onEvent: ((e: VaultClientEvent) => void) | undefined;
  readonly #gate = new ReadyGate();
  #state: VaultState = { status: 'connecting', reason: 'not started', since: Date.now() };
  #conn: VaultConnection | null = null;
  #connReadyAt = 0;
  #sessionId: string | null = null;
  #reauth: Promise<void> | null = null;
  #dialing: Socket | null = null;
  #retryTimer: NodeJS.Timeout | null = null;
  #attempt = 0;
  #started = false;
  #closing = false;
  #closed: Promise<void> | null = null;

  constructor(opts: VaultClientOptions) {
    if (!(opts.seed instanceof Uint8Array) || opts.seed.length !== 32) throw new TypeError('VaultClient: seed must be 32 bytes');
    if (typeof opts.agent !== 'string' || opts.agent === '') throw new TypeError('VaultClient: agent is required');
    this.#endpoint = opts.endpoint;
    this.#agent = opts.agent;
    this.#seed = new Uint8Array(opts.seed);
    this.#callTimeoutMs = opts.callTimeoutMs ?? 2000;
    this.#connectTimeoutMs = opts.connectTimeoutMs ?? 2000;
    this.#backoffInitial = Math.max(1, opts.backoff?.initialMs ?? 100);
    this.#backoffMax = Math.max(this.#backoffInitial, opts.backoff?.maxMs ?? 5000);
    this.#onEvent = opts.onEvent;
  }

  /** Connect in the background and keep reconnecting until close(). Idempotent. */
  start(): void {
    if (this.#started || this.#closing) return;
    this.#started = true;
    void this.#connect();
  }

  get state(): VaultState {
    return { ...this.#state };
  }

  /** Resolves when the client is ready; rejects with VaultUnavailableError after `timeoutMs` or on close(). */
  whenReady(timeoutMs?: number): Promise<void> {
    if (this.#state.status === 'ready') return Promise.resolve();
    if (this.#closing) return Promise.reject(this.#unavailable('vault client is closed'));
    return this.#gate.wait(false, timeoutMs, () => this.#unavailable(`vault not ready after ${timeoutMs} ms`));
  }

  /**
   * Send `method` with `params` (session_id added), on the shared connection. Retries
   * once, invisibly, after re-authenticating on SESSION_EXPIRED, and once on a lease
   * error from `use`. Rejects with a typed VaultError.
   */
  async call(method: string, params: Record<string, unknown>): Promise<unknown> {
    const t0 = performance.now();
    const operation = method === 'use' && typeof params.operation === 'string' ? params.operation : undefined;
    const event = (ok: boolean, code?: string): void =>
      this.#emit({ type: 'call', method, ...(operation ? { operation } : {}), ok, ...(code ? { code } : {}), ms: performance.now() - t0 });
    try {
      const result = await this.#callWithRetries(method, params, t0 + this.#callTimeoutMs);
      event(true);
      return result;
    } catch (err) {
      event(false, err instanceof VaultError ? err.code : 'INTERNAL');
      throw err;
    }
  }

  /** Reject everything pending, destroy the socket and clear every timer. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= this.#shutdown();
    return this.#closed;
  }

  [inspect.custom](): string {
    return `${this.constructor.name} { agent: ${JSON.stringify(this.#agent)}, endpoint: ${JSON.stringify(describeEndpoint(this.#endpoint))}, status: '${this.#state.status}' }`;
  }

  async #shutdown(): Promise<void> {
    this.#closing = true;
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    this.#setState('closed', 'client closed');
    const closing: Promise<unknown>[] = [];
    const dialing = this.#dialing;
    if (dialing !== null && !dialing.closed) {
      closing.push(new Promise((resolve) => dialing.once('close', resolve)));
      dialing.destroy();
    }
    if (this.#conn !== null) {
      closing.push(this.#conn.whenClosed);
      this.#conn.destroy(this.#unavailable('vault client closed'));
    }
    this.#seed.fill(0);
    await Promise.all(closing);
  }

  async #connect(): Promise<void> {
    this.#retryTimer = null;
    if (this.#closing) return;
    this.#setState('connecting');
    let conn: VaultConnection | null = null;
    try {
      const socket = await connectSocket(this.#endpoint, this.#connectTimeoutMs, (s) => (this.#dialing = s));
      if (this.#closing) {
        socket.destroy();
        return;
      }
      const c = new VaultConnection(socket, {
        onClose: (err) => this.#onConnectionClosed(c, err),
        onProtocolError: (message) => this.#emit({ type: 'protocol', message }),
      });
      conn = c;
      this.#conn = c;
      const sessionId = await authenticate(c, this.#agent, this.#seed, this.#connectTimeoutMs);
      if (this.#closing) return;
      if (c.closed) throw this.#unavailable('vault connection closed during the handshake');
      this.#sessionId = sessionId;
      this.#connReadyAt = performance.now();
      this.#attempt = 0; // backoff restarts after every success, as gRPC does
      this.#setState('ready');
    } catch (err) {
      if (this.#closing) return;
      conn?.destroy(this.#unavailable('vault handshake failed'));
      this.#scheduleRetry(reasonOf(err));
    }
  }

  #onConnectionClosed(conn: VaultConnection, err: VaultError): void {
    if (conn !== this.#conn) return;
    this.#conn = null;
    this.#sessionId = null;
    if (this.#closing || this.#state.status !== 'ready') return; // a failing handshake is handled in #connect
    // A connection that stayed up is replaced at once, so a blip costs callers a short
    // wait. One that dropped soon after connecting goes through the backoff (reset when
    // it became ready, so at most initialMs), and calls fail fast meanwhile: a vault that
    // accepts and drops costs a handshake per backoff step, never a tight loop.
    if (performance.now() - this.#connReadyAt >= Math.min(this.#backoffMax, STABLE_MS)) {
      void this.#connect();
    } else {
      this.#scheduleRetry(`connection lost: ${err.message}`);
    }
  }

  /** State 'failed' until the next attempt, after a full-jitter exponential delay. */
  #scheduleRetry(reason: string): void {
    const cap = Math.min(this.#backoffMax, this.#backoffInitial * 2 ** this.#attempt);
    this.#attempt = Math.min(this.#attempt + 1, 30);
    this.#setState('failed', reason);
    this.#retryTimer = setTimeout(() => void this.#connect(), Math.random() * cap);
  }

  async #callWithRetries(method: string, params: Record<string, unknown>, deadline: number): Promise<unknown> {
    let sessionRetried = false;
    let leaseRetried = false;
    for (;;) {
      const conn = await this.#readyConnection(deadline);
      const sessionId = this.#sessionId;
      const remaining = deadline - performance.now();
      if (remaining <= 0) throw new VaultTimeoutError({ message: `vault call ${method} timed out after ${this.#callTimeoutMs} ms` });
      // release_lease is the one method that carries no session (vault-protocol.md).
      const wire = method === 'release_lease' ? params : { ...params, session_id: sessionId };
      try {
        return await conn.request(method, wire, remaining);
      } catch (err) {
        if (err instanceof VaultSessionExpiredError && !sessionRetried) {
          sessionRetried = true;
          await this.#reauthenticate(conn, sessionId, deadline);
          continue;
        }
        if (err instanceof VaultLeaseError && method === 'use' && !leaseRetried) {
          leaseRetried = true;
          continue;
        }
        throw err;
      }
    }
  }

  /** Single-flight re-handshake on the same connection; later expiries of the same session share it. */
  async #reauthenticate(conn: VaultConnection, expired: string | null, deadline: number): Promise<void> {
    if (conn !== this.#conn || conn.closed || this.#sessionId !== expired) return; // already renewed
    this.#reauth ??= authenticate(conn, this.#agent, this.#seed, Math.max(1, deadline - performance.now()))
      .then(
        (sessionId) => {
          if (this.#conn === conn) this.#sessionId = sessionId;
        },
        (err: unknown) => {
          conn.destroy(this.#unavailable(`vault re-authentication failed: ${reasonOf(err)}`));
          throw err;
        },
      )
      .finally(() => {
        this.#reauth = null;
      });
    await this.#reauth;
  }

  async #readyConnection(deadline: number): Promise<VaultConnection> {
    for (;;) {
      if (this.#closing) throw this.#unavailable('vault client is closed');
      if (!this.#started) throw this.#unavailable('vault client not started');
      const { status, reason } = this.#state;
      if (status === 'ready' && this.#conn !== null) {
        if (this.#reauth === null) return this.#conn;
        await this.#reauth.catch(() => undefined);
        continue;
      }
      if (status === 'failed') throw this.#unavailable(`vault unavailable: ${reason ?? 'unknown reason'}`);
      const remaining = deadline - performance.now();
      await this.#gate.wait(true, remaining, () => new VaultTimeoutError({ message: `vault not connected within ${this.#callTimeoutMs} ms` }));
    }
  }

  #setState(status: VaultStatus, reason?: string): void {
    this.#state = { status, ...(reason !== undefined ? { reason } : {}), since: Date.now() };
    this.#emit({ type: 'state', state: this.state });
    if (status === 'ready') this.#gate.open();
    else if (status === 'closed') this.#gate.closed(() => this.#unavailable('vault client closed'));
    else if (status === 'failed') this.#gate.failed(() => this.#unavailable(`vault unavailable: ${reason ?? 'unknown reason'}`));
  }

  #unavailable(message: string): VaultUnavailableError {
    return new VaultUnavailableError({ message, context: { endpoint: describeEndpoint(this.#endpoint) } });
  }

  #emit(e: VaultClientEvent): void {
    try {
      this.#onEvent?.(e);
    } catch {
      // A broken metrics hook must not break vault calls.
    }
  }
}

function reasonOf(err: unknown): string {
  if (err instanceof VaultError) return err.code === err.message ? err.code : `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

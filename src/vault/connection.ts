/**
 * One framed connection to the vault: a socket, its decoder, and the calls in flight
 * on it, matched by id in any order (the Node SDK pipelines the same way).
 *
 * It owns the transport rules: each request has its own timeout and a late answer is
 * ignored; the moment the socket closes or the peer breaks the protocol every pending
 * call is rejected and the socket destroyed. Reconnecting is the client's job.
 */
import { connect, type Socket } from 'node:net';
import { VaultError, VaultProtocolError, VaultTimeoutError, VaultUnavailableError } from './errors.js';
import { encodeFrame, FrameDecoder } from './framing.js';
import { isRecord } from './messages.js';
import { vaultErrorFromWire } from './wire-errors.js';

export type VaultEndpoint = { socket: string } | { host: string; port: number };

export function describeEndpoint(e: VaultEndpoint): string {
  return 'socket' in e ? `unix:${e.socket}` : `${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port}`;
}

/** Open a socket to the vault; rejects with VaultUnavailableError or VaultTimeoutError. */
export function connectSocket(endpoint: VaultEndpoint, timeoutMs: number, track: (s: Socket | null) => void): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = 'socket' in endpoint ? connect({ path: endpoint.socket }) : connect({ host: endpoint.host, port: endpoint.port });
    track(socket);
    const where = describeEndpoint(endpoint);
    const done = (err: VaultError | null): void => {
      clearTimeout(timer);
      socket.off('connect', onConnect);
      socket.off('error', onError);
      socket.off('close', onClose);
      track(null);
      if (err === null) return resolve(socket);
      socket.destroy();
      reject(err);
    };
    const onConnect = (): void => done(null);
    const onError = (e: NodeJS.ErrnoException): void =>
      done(new VaultUnavailableError({ message: `cannot connect to the vault at ${where}: ${e.code ?? e.message}`, cause: e }));
    // destroy() without an error (the client closing) emits only 'close'.
    const onClose = (): void => done(new VaultUnavailableError({ message: `connection to the vault at ${where} was abandoned` }));
    const timer = setTimeout(
      () => done(new VaultTimeoutError({ message: `connecting to the vault at ${where} took longer than ${timeoutMs} ms` })),
      timeoutMs,
    );
    socket.once('connect', onConnect);
    socket.once('error', onError);
    socket.once('close', onClose);
  });
}

interface Pending {
  method: string;
  resolve(v: unknown): void;
  reject(e: VaultError): void;
  timer: NodeJS.Timeout;
}

export interface ConnectionHooks {
  /** Called once, when the connection ends for any reason. */
  onClose(err: VaultError): void;
  /** The peer said something off-protocol that did not end the connection. */
  onProtocolError(message: string): void;
}

/** Remember this many timed-out ids so their late answers are not reported as unknown. */
const LATE_IDS = 1024;

export class VaultConnection {
  readonly #socket: Socket;
  readonly #hooks: ConnectionHooks;
  readonly #decoder = new FrameDecoder();
  readonly #pending = new Map<number, Pending>();
  readonly #timedOut = new Set<number>();
  readonly #closedPromise: Promise<void>;
  #nextId = 1;
  #closed = false;
  #socketError: Error | undefined;

  constructor(socket: Socket, hooks: ConnectionHooks) {
    this.#socket = socket;
    this.#hooks = hooks;
    socket.setNoDelay(true);
    this.#closedPromise = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) => {
      this.#socketError = err;
    });
    socket.on('close', () => {
      const mid = this.#decoder.bufferedBytes > 0 ? ' mid-frame' : '';
      const why = this.#socketError ? ` (${(this.#socketError as NodeJS.ErrnoException).code ?? this.#socketError.message})` : '';
      this.destroy(new VaultUnavailableError({ message: `vault connection closed${mid}${why}`, cause: this.#socketError }));
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Resolves once the socket is fully closed (its handle released). */
  get whenClosed(): Promise<void> {
    return this.#closedPromise;
  }

  /** Send one request; resolves with its `result` or rejects with a typed VaultError. */
  request(method: string, params: Record<string, unknown>, timeoutMs: number): Promise<unknown> {
    if (this.#closed) return Promise.reject(new VaultUnavailableError({ message: 'vault connection is closed' }));
    const id = this.#nextId++;
    let frame: Buffer;
    try {
      frame = encodeFrame({ id, method, params });
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        this.#rememberLate(id);
        reject(new VaultTimeoutError({ message: `vault did not answer ${method} within ${Math.round(timeoutMs)} ms` }));
      }, Math.max(1, timeoutMs));
      this.#pending.set(id, { method, resolve, reject, timer });
      this.#socket.write(frame);
    });
  }

  /** Reject every pending call with `err`, destroy the socket, tell the owner once. */
  destroy(err: VaultError = new VaultUnavailableError({ message: 'vault connection closed' })): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.#pending.clear();
    this.#socket.destroy();
    this.#hooks.onClose(err);
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return;
    let messages: unknown[];
    try {
      messages = this.#decoder.push(chunk);
    } catch (err) {
      const e = err instanceof VaultError ? err : new VaultProtocolError({ message: 'undecodable vault frame', cause: err });
      this.#hooks.onProtocolError(e.message);
      this.destroy(e);
      return;
    }
    for (const m of messages) this.#onMessage(m);
  }

  #onMessage(msg: unknown): void {
    if (this.#closed) return;
    const id = isRecord(msg) ? msg.id : undefined;
    if (typeof id !== 'number') {
      this.#hooks.onProtocolError('vault answer without a numeric id was ignored');
      return;
    }
    const p = this.#pending.get(id);
    if (p === undefined) {
      if (this.#timedOut.delete(id)) return; // the late answer to a call that timed out
      this.#hooks.onProtocolError(`vault answer with unknown id ${id} was ignored`);
      return;
    }
    this.#pending.delete(id);
    clearTimeout(p.timer);
    const m = msg as Record<string, unknown>;
    if ('error' in m && m.error !== undefined && m.error !== null) p.reject(vaultErrorFromWire(m.error));
    else if ('result' in m && m.result !== undefined) p.resolve(m.result);
    else {
      const message = `vault answer to ${p.method} (id ${id}) has neither result nor error`;
      this.#hooks.onProtocolError(message);
      p.reject(new VaultProtocolError({ message }));
    }
  }

  #rememberLate(id: number): void {
    this.#timedOut.add(id);
    if (this.#timedOut.size > LATE_IDS) {
      const oldest = this.#timedOut.values().next().value;
      if (oldest !== undefined) this.#timedOut.delete(oldest);
    }
  }
}

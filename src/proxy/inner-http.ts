/**
 * HTTP inside a CONNECT tunnel (plain, or decrypted by the interceptor): one internal
 * `node:http` server with no listener, fed sockets with `emit('connection')`. Each
 * socket is bound to its tunnel's authority, and every request on it goes through
 * `dispatchRequest` with that target, so the pipeline (match, resolve, inject, forward)
 * is the same as for the other request forms and the inner Host must agree (I1).
 *
 * The server gets the listener's limits (I15); emitting 'listening' starts Node's
 * connection checker so header and request timeouts apply inside tunnels too. A
 * CONNECT inside a tunnel is refused: a tunnel names one destination.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from '../node-http.js';
import type { Socket } from 'node:net';
import type { LimitsSettings } from '../config/types.js';
import { SidecarError, toSidecarError } from '../errors.js';
import { logRequest, type Logger } from '../log.js';
import { refuseSocket } from './server.js';
import type { Presented } from '../gateway/auth.js';

/** The authority a tunnel was opened to, and whether its bytes arrive decrypted from TLS. */
export interface TunnelTarget {
  readonly host: string;
  readonly port: number;
  readonly scheme: 'http' | 'https';
  /** Gateway mode: what the CONNECT presented; each request inside is identified with it. */
  readonly presented?: Presented;
}

export interface InnerHttpDeps {
  /** `dispatchRequest` bound to the proxy's deps. */
  readonly dispatch: (req: IncomingMessage, res: ServerResponse, target: TunnelTarget) => void;
  /** The WebSocket upgrade path. */
  readonly upgrade: (req: IncomingMessage, socket: Socket, head: Buffer, target: TunnelTarget) => void;
  readonly log: Logger;
}

const noop = (): void => undefined;

export class InnerHttp {
  readonly server: Server;
  readonly #targets = new WeakMap<Socket, TunnelTarget>();
  readonly #log: Logger;

  constructor(deps: InnerHttpDeps, limits: LimitsSettings) {
    this.#log = deps.log;
    this.server = createServer(
      {
        headersTimeout: limits.headersTimeoutMs,
        requestTimeout: limits.requestTimeoutMs,
        keepAliveTimeout: limits.keepAliveTimeoutMs,
        maxHeaderSize: limits.maxHeaderBytes,
        // Node checks header/request deadlines on this interval (default 30 s): check often
        // enough that a slowloris head inside a tunnel is cut off close to headersTimeout.
        connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
        insecureHTTPParser: false,
        joinDuplicateHeaders: false,
      },
      (req, res) => {
        const target = this.#targets.get(req.socket);
        if (target === undefined) {
          res.destroy();
          return;
        }
        deps.dispatch(req, res, target);
      },
    );
    this.server.on('connect', (req: IncomingMessage, socket: Socket) => {
      this.#refuse(socket, req.method ?? '', new SidecarError('BAD_TARGET', { message: 'CONNECT inside a tunnel is not allowed.' }));
    });
    this.server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      const target = this.#targets.get(socket);
      if (target === undefined) socket.destroy();
      else deps.upgrade(req, socket, head, target);
    });
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      // The parser refused the bytes (smuggling, bad framing, oversized headers): answer and close.
      const code = err.code === 'HPE_HEADER_OVERFLOW' ? 'HEADERS_TOO_LARGE' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'REQUEST_TIMEOUT' : 'BAD_REQUEST';
      if (err.code === 'ECONNRESET' || !socket.writable) socket.destroy();
      else this.#refuse(socket, '', new SidecarError(code, { cause: err }));
    });
    // Start Node's per-connection header/request timeout checks without a listener.
    this.server.emit('listening');
  }

  /** Serve HTTP on `socket` (paused, possibly with sniffed bytes unshifted) for `target`. */
  serve(socket: Socket, target: TunnelTarget): void {
    this.#targets.set(socket, target);
    this.server.emit('connection', socket);
    // Adding a 'data' listener makes the parser read through stream events instead of
    // consuming the handle directly, so bytes already buffered (the sniffed first chunk,
    // the CONNECT `head`, TLS records decrypted with the Finished message) are parsed too.
    socket.on('data', noop);
    socket.resume();
  }

  /** Answer on the tunnel's socket without the pipeline (nothing to match), with the canonical line. */
  #refuse(socket: Socket, method: string, err: SidecarError): void {
    const target = this.#targets.get(socket);
    const e = toSidecarError(err);
    logRequest(this.#log, {
      id: randomUUID(),
      form: target?.scheme === 'https' ? 'intercept' : 'tunnel-http',
      agent: null,
      route: null,
      method,
      host: target?.host ?? null,
      status: e.status,
      code: e.code,
      outcome: 'bad_request',
      vault_ms: null,
      upstream_ms: null,
      total_ms: 0,
      bytes_in: 0,
      bytes_out: 0,
      cache: null,
    });
    refuseSocket(socket, e);
  }
}

/**
 * HTTP inside a CONNECT tunnel (plain, or decrypted by the interceptor): one internal
 * `node:http` server with no listener, fed sockets with `emit('connection')`. Each
 * socket is bound to its tunnel's authority, and every request on it goes through the
 * adapters (`dispatchRequest`) with that target, so the pipeline (match, resolve,
 * inject, forward) is the same as for the other request forms and the inner Host must
 * agree (I1).
 *
 * The server is built by proxy/listener.ts with the listener's options and parser-error
 * path (I15); emitting 'listening' starts Node's connection checker so header and
 * request timeouts apply inside tunnels too. A CONNECT inside a tunnel is refused: a
 * tunnel names one destination.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { LimitsSettings } from '../../config/types.js';
import { SidecarError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { TunnelTarget } from '../adapters.js';
import { createHttpServer, type ParserErrorSite } from '../listener.js';
import { nextRequestId, writeCanonicalLine } from '../record.js';
import { replyOnSocket } from '../socket-reply.js';

export interface InnerHttpDeps {
  /** `dispatchRequest` bound to the proxy's deps. */
  readonly dispatch: (req: IncomingMessage, res: ServerResponse, target: TunnelTarget) => void;
  /** The WebSocket upgrade path. */
  readonly upgrade: (req: IncomingMessage, socket: Socket, head: Buffer, target: TunnelTarget) => void;
  readonly log: Logger;
}

const noop = (): void => undefined;

function formOfTunnel(t: TunnelTarget | undefined): 'intercept' | 'tunnel-http' {
  return t?.scheme === 'https' ? 'intercept' : 'tunnel-http';
}

export class InnerHttp {
  readonly server: Server;
  readonly #targets = new WeakMap<Socket, TunnelTarget>();
  readonly #log: Logger;

  constructor(deps: InnerHttpDeps, limits: LimitsSettings) {
    this.#log = deps.log;
    const siteOf = (socket: Socket): ParserErrorSite => {
      const t = this.#targets.get(socket);
      return { form: formOfTunnel(t), host: t?.host ?? null };
    };
    this.server = createHttpServer(
      limits,
      deps.log,
      (req, res) => {
        const target = this.#targets.get(req.socket);
        if (target === undefined) {
          res.destroy();
          return;
        }
        deps.dispatch(req, res, target);
      },
      siteOf,
    );
    this.server.on('connect', (req: IncomingMessage, socket: Socket) => {
      this.#refuseConnect(socket, req.method ?? '');
    });
    this.server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      const target = this.#targets.get(socket);
      if (target === undefined) socket.destroy();
      else deps.upgrade(req, socket, head, target);
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

  /** CONNECT inside a tunnel: nothing to match; answered on the socket, with the canonical line. */
  #refuseConnect(socket: Socket, method: string): void {
    const target = this.#targets.get(socket);
    const e = new SidecarError('BAD_TARGET', { message: 'CONNECT inside a tunnel is not allowed.' });
    writeCanonicalLine(this.#log, {
      id: nextRequestId(),
      form: formOfTunnel(target),
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
      via_proxy: false,
      retried: null,
    });
    replyOnSocket(socket, e);
  }
}

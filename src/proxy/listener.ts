/**
 * The proxy's HTTP servers: the listener agents connect to (and each agent's dedicated
 * listener in gateway mode), and the internal server that parses HTTP inside CONNECT
 * tunnels (proxy/tunnel/inner-http.ts). One home for what they share: the limits of
 * I15 as `createServer` options, the header-count cap, and the parser-error path.
 *
 * Plain `node:http` rather than a framework: the request-target must be read exactly
 * as sent (absolute-form, origin-form, CONNECT authority) and the hot path must stay
 * allocation-light. Requests go to the adapters (proxy/adapters.ts); CONNECT and
 * upgrades to the tunnel hooks when attached, refused otherwise.
 */
import type { IncomingMessage, RequestListener, Server, ServerOptions } from 'node:http';
import { createServer } from '../node-http.js';
import type { Socket } from 'node:net';
import type { LimitsSettings } from '../config/types.js';
import { SidecarError } from '../errors.js';
import type { Logger } from '../log.js';
import { markDedicated } from '../gateway/auth.js';
import { dispatchRequest, MAX_HEADERS, type AdapterDeps } from './adapters.js';
import { refusalRecord, writeCanonicalLine } from './record.js';
import { replyOnSocket } from './socket-reply.js';

/** The `createServer` options every proxy server uses (I9, I15). */
export function httpServerOptions(limits: LimitsSettings): ServerOptions {
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    maxHeaderSize: limits.maxHeaderBytes,
    insecureHTTPParser: false,
    joinDuplicateHeaders: false,
    // Node checks header/request deadlines on this interval (default 30 s): check often
    // enough that a slowloris head is cut off close to headers_timeout.
    connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
  };
}

/** Where a parser refusal happened, for its canonical line. */
export interface ParserErrorSite {
  readonly form: string;
  readonly host: string | null;
}

/** A node:http server with the shared options, header cap and parser-error path. */
export function createHttpServer(limits: LimitsSettings, log: Logger, onRequest: RequestListener, siteOf: (socket: Socket) => ParserErrorSite): Server {
  const server = createServer(httpServerOptions(limits), onRequest);
  server.maxHeadersCount = MAX_HEADERS;
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => answerParserError(err, socket, log, siteOf(socket)));
  return server;
}

/**
 * The parser refused the bytes (smuggling, bad framing, oversized or slow headers):
 * one canonical line, then the catalogued answer and close. The parser can fail after
 * the handler already answered (a body error on a request refused from its headers):
 * one answer per request, so then the socket is only closed.
 */
function answerParserError(err: NodeJS.ErrnoException, socket: Socket, log: Logger, site: ParserErrorSite): void {
  const parser = err.code ?? '';
  if (parser === 'ECONNRESET') {
    // The client left; nothing was refused.
    socket.destroy();
    return;
  }
  const e =
    parser === 'HPE_HEADER_OVERFLOW'
      ? new SidecarError('HEADERS_TOO_LARGE', { cause: err })
      : parser === 'ERR_HTTP_REQUEST_TIMEOUT' || parser === 'ERR_HTTP_HEADERS_TIMEOUT'
        ? new SidecarError('REQUEST_TIMEOUT', { cause: err })
        : new SidecarError('BAD_REQUEST', { cause: err });
  writeCanonicalLine(log, refusalRecord(site.form, site.host, '', e), { parser });
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (!socket.writable || inFlight?.headersSent === true) {
    socket.destroy();
    return;
  }
  replyOnSocket(socket, e);
}

export interface ProxyServerDeps extends AdapterDeps {
  readonly log: Logger;
  /** CONNECT handler (tunnels, interception); refused when absent. */
  readonly onConnect?: (req: IncomingMessage, socket: Socket, head: Buffer) => void;
  /** Upgrade handler (WebSocket); refused when absent. */
  readonly onUpgrade?: (req: IncomingMessage, socket: Socket, head: Buffer) => void;
}

const UNPARSED: ParserErrorSite = { form: 'unparsed', host: null };

/** Create a proxy listener (not yet listening) with the limits of I15. */
export function createProxyServer(deps: ProxyServerDeps, limits: LimitsSettings): Server {
  const server = createHttpServer(limits, deps.log, (req, res) => dispatchRequest(deps, req, res), () => UNPARSED);
  server.maxConnections = limits.maxConnections;
  const listener = deps.listener;
  if (listener !== undefined) server.on('connection', (socket: Socket) => markDedicated(socket, listener));
  server.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    if (deps.onConnect !== undefined) deps.onConnect(req, socket, head);
    else replyOnSocket(socket, new SidecarError('NO_ROUTE', { message: 'CONNECT is not enabled.' }));
  });
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    if (deps.onUpgrade !== undefined) deps.onUpgrade(req, socket, head);
    else replyOnSocket(socket, new SidecarError('BAD_REQUEST', { message: 'Upgrades are not supported on this route.' }));
  });
  return server;
}

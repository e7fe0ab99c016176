/**
 * The proxy listener and its thin adapters (STYLE 1).
 *
 * A plain `node:http` server rather than a framework: the request-target must be
 * read exactly as sent (absolute-form, origin-form, CONNECT authority) and the hot
 * path must stay allocation-light. Each adapter parses the target with the strict
 * grammar (I1, I2) and hands an `Intent` to the pipeline; parse failures are
 * refused through the pipeline too, so every request gets its canonical log line.
 * CONNECT and upgrades are handed to the tunnel module when it is attached.
 * In gateway mode the agent is identified here, before any adapter (src/gateway/auth).
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from '../node-http.js';
import type { Socket } from 'node:net';
import type { LimitsSettings } from '../config/types.js';
import { SidecarError, toReply } from '../errors.js';
import { checkHostAgreement, parseAbsoluteTarget, parseOriginTarget } from '../routing/target.js';
import type { Pipeline } from './pipeline.js';
import type { Snapshot } from './snapshot.js';
import type { Logger } from '../log.js';
import { identify, listenerOf, markDedicated, presentedBy, splitAgentSegment, type Caller } from '../gateway/auth.js';
import type { TunnelTarget } from './inner-http.js';

export interface ProxyServerDeps {
  readonly pipeline: Pipeline;
  readonly snapshot: () => Snapshot;
  readonly log: Logger;
  readonly isDraining: () => boolean;
  /** CONNECT handler (tunnels, interception); refused with 403 when absent. */
  onConnect?: (req: IncomingMessage, socket: Socket, head: Buffer) => void;
  /** Upgrade handler (WebSocket); refused when absent. */
  onUpgrade?: (req: IncomingMessage, socket: Socket, head: Buffer) => void;
  /** Set on an agent's dedicated listener: its configured `host:port` (gateway mode). */
  readonly listener?: string;
}

/**
 * Node keeps only the first `maxHeadersCount` headers and silently drops the rest, while the
 * parser still honours framing sent past the cut-off. A request that reaches the limit is
 * refused rather than forwarded with headers (perhaps Transfer-Encoding) missing.
 */
export const MAX_HEADERS = 1000;

/** Methods that would reflect the injected credential back to the agent. */
const REFLECTING_METHODS = new Set(['TRACE', 'TRACK']);

/** Route one HTTP request (from the listener or from inside a tunnel) to its adapter. */
export function dispatchRequest(
  deps: Pick<ProxyServerDeps, 'pipeline' | 'snapshot' | 'isDraining' | 'listener'>,
  req: IncomingMessage,
  res: ServerResponse,
  tunnelTarget?: TunnelTarget,
): void {
  let url = req.url ?? '';
  const p = deps.pipeline;
  if (deps.isDraining()) {
    res.shouldKeepAlive = false;
    p.reject(req, res, 'absolute', new SidecarError('SHUTTING_DOWN'));
    return;
  }
  if (req.httpVersionMajor !== 1) {
    // HTTP/0.9-style requests (no version, no headers) have no Host and no framing to check.
    res.shouldKeepAlive = false;
    p.reject(req, res, 'absolute', new SidecarError('BAD_REQUEST', { message: 'Only HTTP/1.0 and HTTP/1.1 are accepted.' }));
    return;
  }
  if (req.rawHeaders.length >= 2 * MAX_HEADERS) {
    p.reject(req, res, 'absolute', new SidecarError('HEADERS_TOO_LARGE', { message: 'The request has too many header fields.' }));
    return;
  }
  if (REFLECTING_METHODS.has(req.method ?? '')) {
    p.reject(req, res, 'absolute', new SidecarError('METHOD_DENIED', { message: 'TRACE is never forwarded.' }));
    return;
  }
  // Gateway mode: who is calling (407 if unproven). Tunnels present what their CONNECT did.
  let caller: Caller | undefined;
  const gw = deps.snapshot().gateway;
  if (gw !== null || deps.listener !== undefined || tunnelTarget?.presented !== undefined) {
    try {
      const split = tunnelTarget === undefined ? splitAgentSegment(url) : null;
      if (split !== null) url = split.url;
      if (gw === null) throw new SidecarError('PROXY_AUTH_REQUIRED');
      caller = identify(gw, tunnelTarget?.presented ?? presentedBy(req, split?.token ?? null, listenerOf(req.socket)));
    } catch (err) {
      const form = tunnelTarget === undefined ? (url.charCodeAt(0) === 47 ? 'prefix' : 'absolute') : tunnelTarget.scheme === 'https' ? 'intercept' : 'tunnel-http';
      p.reject(req, res, form, err, tunnelTarget?.host);
      return;
    }
  }
  if (tunnelTarget !== undefined) {
    // Inside CONNECT: origin-form against the tunnel's authority; the inner Host must agree.
    tunnelAdapter(deps, req, res, tunnelTarget, caller);
    return;
  }
  const c0 = url.charCodeAt(0);
  if (c0 === 47 /* / */) {
    originFormAdapter(deps, req, res, url, caller);
    return;
  }
  if (c0 === 104 /* h */ || c0 === 72 /* H */) {
    absoluteFormAdapter(deps, req, res, url, caller);
    return;
  }
  p.reject(req, res, 'absolute', new SidecarError('BAD_TARGET', { message: 'The request target form is not supported.' }));
}

/** absolute-form: `GET http://api.openai.com/v1/... HTTP/1.1` sent to the proxy (HTTP_PROXY). */
function absoluteFormAdapter(deps: Pick<ProxyServerDeps, 'pipeline'>, req: IncomingMessage, res: ServerResponse, url: string, caller: Caller | undefined): void {
  try {
    const target = parseAbsoluteTarget(url);
    checkHostAgreement(target, req.headers.host);
    deps.pipeline.handle(req, res, { form: 'absolute', target, caller });
  } catch (err) {
    deps.pipeline.reject(req, res, 'absolute', err, undefined, caller);
  }
}

/** origin-form: a base-URL prefix (`/openai/v1/...`); the pipeline falls back to host-header form when enabled. */
function originFormAdapter(deps: Pick<ProxyServerDeps, 'pipeline'>, req: IncomingMessage, res: ServerResponse, url: string, caller: Caller | undefined): void {
  try {
    const { path, query } = parseOriginTarget(url);
    deps.pipeline.handle(req, res, { form: 'prefix', path, query, caller });
  } catch (err) {
    deps.pipeline.reject(req, res, 'prefix', err, undefined, caller);
  }
}

/** HTTP inside a CONNECT tunnel (plain or intercepted): the tunnel's authority is the target. */
function tunnelAdapter(
  deps: Pick<ProxyServerDeps, 'pipeline'>,
  req: IncomingMessage,
  res: ServerResponse,
  t: TunnelTarget,
  caller: Caller | undefined,
): void {
  const form = t.scheme === 'https' ? 'intercept' : 'tunnel-http';
  try {
    const url = req.url ?? '';
    let path: string;
    let query: string;
    if (url.charCodeAt(0) === 47) {
      ({ path, query } = parseOriginTarget(url));
    } else {
      // Some clients send absolute-form inside a tunnel; it must name the tunnel's authority.
      const abs = parseAbsoluteTarget(url);
      if (abs.host !== t.host || abs.port !== t.port) throw new SidecarError('HOST_MISMATCH');
      ({ path, query } = abs);
    }
    const target = { scheme: t.scheme, host: t.host, port: t.port, path, query } as const;
    const host = req.headers.host;
    if (host === undefined) throw new SidecarError('BAD_TARGET', { message: 'The request has no Host header.' });
    checkHostAgreement(target, host);
    deps.pipeline.handle(req, res, { form, target, caller });
  } catch (err) {
    deps.pipeline.reject(req, res, form, err, t.host, caller);
  }
}

/** Create the proxy listener with the limits of I15. */
export function createProxyServer(deps: ProxyServerDeps, limits: LimitsSettings): Server {
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      maxHeaderSize: limits.maxHeaderBytes,
      insecureHTTPParser: false,
      joinDuplicateHeaders: false,
      // Node checks header/request deadlines on this interval (default 30 s); a slowloris
      // client would otherwise hold a socket long past headers_timeout.
      connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
    },
    (req, res) => dispatchRequest(deps, req, res),
  );
  server.maxConnections = limits.maxConnections;
  server.maxHeadersCount = MAX_HEADERS;
  const listener = deps.listener;
  if (listener !== undefined) server.on('connection', (socket: Socket) => markDedicated(socket, listener));
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => answerClientError(err, socket, deps.log));
  server.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    if (deps.onConnect !== undefined) deps.onConnect(req, socket, head);
    else refuseSocket(socket, new SidecarError('NO_ROUTE', { message: 'CONNECT is not enabled.' }));
  });
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    if (deps.onUpgrade !== undefined) deps.onUpgrade(req, socket, head);
    else refuseSocket(socket, new SidecarError('BAD_REQUEST', { message: 'Upgrades are not supported on this route.' }));
  });
  return server;
}

/** Write a catalogued error directly on a raw socket (CONNECT, upgrade, parse errors) and close it. */
export function refuseSocket(socket: Socket, err: unknown, route?: string | null): void {
  if (socket.destroyed) return;
  const r = toReply(err, route ?? null);
  const head = [`HTTP/1.1 ${r.status} ${STATUS_TEXT[r.status] ?? 'Error'}`];
  for (const [k, v] of Object.entries(r.headers)) head.push(`${k}: ${v}`);
  head.push('connection: close', '', '');
  socket.end(head.join('\r\n') + r.body);
  socket.destroySoon?.();
}

function answerClientError(err: NodeJS.ErrnoException, socket: Socket, log: Logger): void {
  const code = err.code ?? '';
  const e =
    code === 'HPE_HEADER_OVERFLOW'
      ? new SidecarError('HEADERS_TOO_LARGE', { cause: err })
      : code === 'ERR_HTTP_REQUEST_TIMEOUT' || code === 'ERR_HTTP_HEADERS_TIMEOUT'
        ? new SidecarError('REQUEST_TIMEOUT', { cause: err })
        : new SidecarError('BAD_REQUEST', { cause: err });
  log.info({ form: 'unparsed', status: e.status, code: e.code, parser: code }, 'request');
  // The parser can fail after the handler already answered (a body error on a request we
  // refused from its headers): one answer per request, so only close the socket then.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent === true) {
    socket.destroy();
    return;
  }
  refuseSocket(socket, e);
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

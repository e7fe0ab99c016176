/**
 * The thin adapters (STYLE 1): one per request form, each reading the request line and
 * Host header with the routing parsers (routing/request.ts) and handing the parsed
 * request to the one pipeline. Failures to parse are refused through the pipeline too,
 * so every request gets its canonical line.
 *
 * `dispatchRequest` is the entry for every HTTP request, from the listener and from
 * inside CONNECT tunnels: the checks that come before any routing (draining, HTTP
 * version, header count, TRACE), then the gateway's identification of the agent
 * (src/gateway/auth), then `formOf()` picks the adapter.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SidecarError } from '../errors.js';
import { identify, listenerOf, presentedBy, type Caller, type Presented } from '../gateway/auth.js';
import { isReflectingMethod } from '../routing/decide.js';
import {
  formOf,
  parseAbsoluteRequest,
  parseOriginRequest,
  parseTunnelRequest,
  splitAgentSegment,
  type TunnelAuthority,
} from '../routing/request.js';
import type { RequestForm } from '../routing/types.js';
import type { ForwardStage } from './forward.js';
import type { Intent, Pipeline } from './pipeline.js';
import type { Snapshot } from './snapshot.js';

/**
 * Node keeps only the first `maxHeadersCount` headers (proxy/listener.ts sets it to this)
 * and silently drops the rest, while the parser still honours framing sent past the
 * cut-off. A request that reaches the limit is refused rather than forwarded with headers
 * (perhaps Transfer-Encoding) missing.
 */
export const MAX_HEADERS = 1000;

export interface AdapterDeps {
  readonly pipeline: Pipeline;
  readonly snapshot: () => Snapshot;
  readonly isDraining: () => boolean;
  /** Set on an agent's dedicated listener: its configured `host:port` (gateway mode). */
  readonly listener?: string;
}

/** HTTP inside a CONNECT tunnel: the tunnel's authority, and what its CONNECT presented (gateway mode). */
export interface TunnelTarget extends TunnelAuthority {
  readonly presented?: Presented;
}

export interface DispatchOptions {
  /** The request arrived inside this tunnel. */
  readonly tunnel?: TunnelTarget | undefined;
  /** The forward stage when not the usual one: a WebSocket upgrade's (proxy/tunnel/websocket.ts). */
  readonly forward?: ForwardStage | undefined;
}

/** Route one HTTP request (from a listener or from inside a tunnel) to its adapter. */
export function dispatchRequest(deps: AdapterDeps, req: IncomingMessage, res: ServerResponse, opts: DispatchOptions = {}): void {
  let url = req.url ?? '';
  const method = req.method ?? '';
  const tunnel = opts.tunnel;
  const p = deps.pipeline;
  const form0 = formOf(method, url, tunnel) ?? 'absolute';
  const refuse = (err: unknown, form: RequestForm = form0, caller?: Caller): void =>
    p.reject(req, res, { form, host: tunnel?.host ?? null, caller: caller ?? null, forward: opts.forward }, err);
  if (deps.isDraining()) {
    res.shouldKeepAlive = false;
    refuse(new SidecarError('SHUTTING_DOWN'));
    return;
  }
  if (req.httpVersionMajor !== 1) {
    // HTTP/0.9-style requests (no version, no headers) have no Host and no framing to check.
    res.shouldKeepAlive = false;
    refuse(new SidecarError('BAD_REQUEST', { message: 'Only HTTP/1.0 and HTTP/1.1 are accepted.' }));
    return;
  }
  if (req.rawHeaders.length >= 2 * MAX_HEADERS) {
    refuse(new SidecarError('HEADERS_TOO_LARGE', { message: 'The request has too many header fields.' }));
    return;
  }
  // Before identification too: TRACE would reflect the injected credential (routing/decide repeats it for explain).
  if (isReflectingMethod(method)) {
    refuse(new SidecarError('METHOD_DENIED', { message: 'TRACE is never forwarded.' }));
    return;
  }
  // Gateway mode: who is calling (407 if unproven). Tunnels present what their CONNECT did.
  let caller: Caller | null = null;
  const gw = deps.snapshot().gateway;
  if (gw !== null || deps.listener !== undefined || tunnel?.presented !== undefined) {
    try {
      const split = tunnel === undefined ? splitAgentSegment(url) : null;
      if (split !== null) url = split.url;
      if (gw === null) throw new SidecarError('PROXY_AUTH_REQUIRED');
      caller = identify(gw, tunnel?.presented ?? presentedBy(req, split?.token ?? null, listenerOf(req.socket)));
    } catch (err) {
      refuse(err, formOf(method, url, tunnel) ?? form0);
      return;
    }
  }
  const form = formOf(method, url, tunnel);
  const intent = { caller, forward: opts.forward };
  switch (form) {
    case 'absolute':
      absoluteForm(p, req, res, url, intent);
      return;
    case 'prefix':
      originForm(p, req, res, url, intent);
      return;
    case 'tunnel-http':
    case 'intercept':
      inTunnel(p, req, res, url, tunnel!, intent);
      return;
    default:
      refuse(new SidecarError('BAD_TARGET', { message: 'The request target form is not supported.' }), 'absolute', caller ?? undefined);
  }
}

type IntentBase = Omit<Intent, 'request'>;

/** absolute-form: `GET http://api.openai.com/v1/... HTTP/1.1` sent to the proxy (HTTP_PROXY). */
function absoluteForm(p: Pipeline, req: IncomingMessage, res: ServerResponse, url: string, intent: IntentBase): void {
  try {
    p.handle(req, res, { caller: intent.caller, forward: intent.forward, request: parseAbsoluteRequest(url, req.headers.host) });
  } catch (err) {
    p.reject(req, res, { ...intent, form: 'absolute', host: null }, err);
  }
}

/** origin-form: a base-URL prefix (`/openai/v1/...`); the decision falls back to host-header form when enabled. */
function originForm(p: Pipeline, req: IncomingMessage, res: ServerResponse, url: string, intent: IntentBase): void {
  try {
    p.handle(req, res, { caller: intent.caller, forward: intent.forward, request: parseOriginRequest(url) });
  } catch (err) {
    p.reject(req, res, { ...intent, form: 'prefix', host: null }, err);
  }
}

/** HTTP inside a CONNECT tunnel (plain or intercepted): the tunnel's authority is the target. */
function inTunnel(p: Pipeline, req: IncomingMessage, res: ServerResponse, url: string, t: TunnelTarget, intent: IntentBase): void {
  try {
    p.handle(req, res, { caller: intent.caller, forward: intent.forward, request: parseTunnelRequest(url, req.headers.host, t) });
  } catch (err) {
    p.reject(req, res, { ...intent, form: t.scheme === 'https' ? 'intercept' : 'tunnel-http', host: t.host }, err);
  }
}

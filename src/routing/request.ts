/**
 * What a request asks for, read from the request line and the Host header exactly as
 * the proxy received them: which form it came in (`formOf`) and, per form, the parsed
 * request the routing decision takes (`parseRequest`). The proxy's adapters call these
 * on live requests and `explain` calls them on the URL a user typed, so both read a
 * request the same way (I1: one parser, one canonical target). Every function throws a
 * catalogued `SidecarError` (BAD_TARGET, HOST_MISMATCH) and never repairs its input (I2).
 */
import { SidecarError } from '../errors.js';
import { checkHostAgreement, parseAbsoluteTarget, parseConnectAuthority, parseOriginTarget } from './target.js';
import type { RequestForm, Target } from './types.js';

/** The authority a CONNECT tunnel was opened to, and whether its bytes arrive decrypted from TLS. */
export interface TunnelAuthority {
  readonly host: string;
  readonly port: number;
  readonly scheme: 'http' | 'https';
}

/** A request, parsed for its form. The prefix form may still become host-header form (routing/decide). */
export type ParsedRequest = TargetRequest | OriginRequest | ConnectRequest;
/** absolute-form, and HTTP inside a tunnel: a full canonical target. */
export interface TargetRequest {
  readonly form: 'absolute' | 'tunnel-http' | 'intercept';
  readonly target: Target;
}
/** origin-form on the listener: a path and query, matched by prefix (or by Host, when enabled). */
export interface OriginRequest {
  readonly form: 'prefix';
  readonly path: string;
  readonly query: string;
}
/** A CONNECT authority. */
export interface ConnectRequest {
  readonly form: 'connect';
  readonly host: string;
  readonly port: number;
}

/**
 * The form a request came in: CONNECT; inside a tunnel (plain or intercepted); an
 * origin-form path (prefix, or host-header when enabled); an absolute-form URL. Null for
 * anything else (`*`, garbage): the adapters refuse it with BAD_TARGET.
 */
export function formOf(method: string, rawTarget: string, tunnel?: TunnelAuthority): RequestForm | null {
  if (method === 'CONNECT') return 'connect';
  if (tunnel !== undefined) return tunnel.scheme === 'https' ? 'intercept' : 'tunnel-http';
  const c0 = rawTarget.charCodeAt(0);
  if (c0 === 47 /* / */) return 'prefix';
  if (c0 === 104 /* h */ || c0 === 72 /* H */) return 'absolute';
  return null;
}

/** absolute-form (`GET http://api.openai.com/v1/... HTTP/1.1`, HTTP_PROXY): a present Host must agree. */
export function parseAbsoluteRequest(rawTarget: string, hostHeader: string | undefined): TargetRequest {
  const target = parseAbsoluteTarget(rawTarget);
  checkHostAgreement(target, hostHeader);
  return { form: 'absolute', target };
}

/** origin-form on the listener (`/openai/v1/...`, a base URL): the path and query. */
export function parseOriginRequest(rawTarget: string): OriginRequest {
  const { path, query } = parseOriginTarget(rawTarget);
  return { form: 'prefix', path, query };
}

/**
 * HTTP inside a CONNECT tunnel: the tunnel's authority is the target. Origin-form is
 * usual; some clients send absolute-form, which must then name the tunnel's authority.
 * The inner Host is required and must agree (I1).
 */
export function parseTunnelRequest(rawTarget: string, hostHeader: string | undefined, t: TunnelAuthority): TargetRequest {
  let path: string;
  let query: string;
  if (rawTarget.charCodeAt(0) === 47) {
    ({ path, query } = parseOriginTarget(rawTarget));
  } else {
    const abs = parseAbsoluteTarget(rawTarget);
    if (abs.host !== t.host || abs.port !== t.port) throw new SidecarError('HOST_MISMATCH');
    ({ path, query } = abs);
  }
  const target: Target = { scheme: t.scheme, host: t.host, port: t.port, path, query };
  if (hostHeader === undefined) throw new SidecarError('BAD_TARGET', { message: 'The request has no Host header.' });
  checkHostAgreement(target, hostHeader);
  return { form: t.scheme === 'https' ? 'intercept' : 'tunnel-http', target };
}

/** A CONNECT authority (`host:port`, port required). */
export function parseConnectRequest(rawTarget: string): ConnectRequest {
  const { host, port } = parseConnectAuthority(rawTarget);
  return { form: 'connect', host, port };
}

/** Parse a request of a known form; throws BAD_TARGET for a form that cannot be served. */
export function parseRequest(form: RequestForm | null, rawTarget: string, hostHeader: string | undefined, tunnel?: TunnelAuthority): ParsedRequest {
  switch (form) {
    case 'absolute':
      return parseAbsoluteRequest(rawTarget, hostHeader);
    case 'prefix':
    case 'host-header':
      return parseOriginRequest(rawTarget);
    case 'tunnel-http':
    case 'intercept':
      if (tunnel === undefined) throw new SidecarError('BAD_TARGET', { message: 'The request target form is not supported.' });
      return parseTunnelRequest(rawTarget, hostHeader, tunnel);
    case 'connect':
      return parseConnectRequest(rawTarget);
    case null:
      throw new SidecarError('BAD_TARGET', { message: 'The request target form is not supported.' });
  }
}

/** The path and query the agent asked for (what tripwires search), '' for CONNECT. */
export function requestedPath(p: ParsedRequest): { path: string; query: string } {
  switch (p.form) {
    case 'prefix':
      return { path: p.path, query: p.query };
    case 'connect':
      return { path: '', query: '' };
    default:
      return { path: p.target.path, query: p.target.query };
  }
}

const AGENT_SEGMENT = '/_agent/';

/**
 * Split a leading `/_agent/<token>` segment off an origin-form request target (gateway
 * mode, base-URL SDKs): `/_agent/t0k/openai/v1?x` → `{ token: 't0k', url: '/openai/v1?x' }`;
 * null when absent. The segment is removed before prefix matching and never forwarded.
 */
export function splitAgentSegment(url: string): { token: string; url: string } | null {
  if (!url.startsWith(AGENT_SEGMENT)) return null;
  let end = AGENT_SEGMENT.length;
  while (end < url.length && url.charCodeAt(end) !== 47 /* / */ && url.charCodeAt(end) !== 63 /* ? */) end++;
  const rest = url.slice(end);
  return { token: url.slice(AGENT_SEGMENT.length, end), url: rest === '' || rest.charCodeAt(0) === 63 ? `/${rest}` : rest };
}

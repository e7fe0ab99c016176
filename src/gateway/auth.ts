/**
 * Who is calling, in gateway mode (I14). An agent proves itself in one of three ways:
 *
 *   Proxy-Authorization   `Basic base64(name:token)` (the name, when given, must be the
 *                         token's agent) or `Bearer token`; schemes case-insensitive.
 *   path segment          `/_agent/<token>/openai/v1/...` for base-URL SDKs; the segment
 *                         is removed before prefix matching and never forwarded.
 *   dedicated listener    an agent's own `listen:` address; no token.
 *
 * Every credential a request presents must be valid and name the same agent, and at
 * least one must be present; otherwise 407 with `Proxy-Authenticate` (the reply never
 * says which part was wrong). Inside a CONNECT tunnel, requests inherit what the CONNECT
 * presented, checked again against the snapshot that serves each one, so a removed
 * agent or a rotated token ends access on the next request.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { SidecarError } from '../errors.js';
import type { AgentEntry, Gateway } from './agents.js';

/** The `/_agent/<token>` path segment is part of reading the request target (routing/request). */
export { splitAgentSegment } from '../routing/request.js';

/** What a request (or the CONNECT that opened its tunnel) presented. */
export interface Presented {
  /** From Proxy-Authorization: the token and the Basic user name ('' or absent: no claim). */
  readonly header: { readonly token: string; readonly name: string | null } | 'malformed' | null;
  /** From a leading `/_agent/<token>` path segment. */
  readonly segment: string | null;
  /** The configured `host:port` of the dedicated listener that accepted the connection. */
  readonly listener: string | null;
}

/** An identified agent, and the proxy token it presented (tripwires search for it). */
export interface Caller {
  readonly agent: AgentEntry;
  readonly token: string | null;
}

/** Connections accepted by a dedicated listener, and its configured `host:port`. */
const dedicated = new WeakMap<Socket, string>();

/** Remember that `socket` came in on the dedicated listener configured as `listener`. */
export function markDedicated(socket: Socket, listener: string): void {
  dedicated.set(socket, listener);
}

/** The dedicated listener a connection came in on, or null for the proxy listener. */
export function listenerOf(socket: Socket | null | undefined): string | null {
  return socket == null ? null : (dedicated.get(socket) ?? null);
}
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function denied(): SidecarError {
  return new SidecarError('PROXY_AUTH_REQUIRED');
}

/** Parse a Proxy-Authorization value (RFC 9110 §11.7.1); null when absent. */
export function parseProxyAuthorization(value: string | undefined): Presented['header'] {
  if (value === undefined) return null;
  const v = value.trim();
  const sp = v.indexOf(' ');
  if (sp <= 0) return 'malformed';
  const scheme = v.slice(0, sp).toLowerCase();
  const cred = v.slice(sp + 1).trim();
  if (scheme === 'bearer') return cred === '' ? 'malformed' : { token: cred, name: null };
  if (scheme !== 'basic' || !BASE64.test(cred)) return 'malformed';
  const pair = Buffer.from(cred, 'base64').toString('utf8');
  const colon = pair.indexOf(':');
  if (colon < 0 || colon === pair.length - 1) return 'malformed';
  return { token: pair.slice(colon + 1), name: colon === 0 ? null : pair.slice(0, colon) };
}

/** What `req` presents: its Proxy-Authorization, an already-split path token, the listener it came in on. */
export function presentedBy(req: IncomingMessage, segment: string | null, listener: string | null): Presented {
  return { header: parseProxyAuthorization(req.headers['proxy-authorization']), segment, listener };
}

/** Identify the agent against this snapshot's gateway. Throws PROXY_AUTH_REQUIRED (407). */
export function identify(gw: Gateway, p: Presented): Caller {
  let agent: AgentEntry | null = null;
  let token: string | null = null;
  let conflict = false;
  const claim = (a: AgentEntry | null | undefined): void => {
    if (a === null || a === undefined || (agent !== null && agent !== a)) conflict = true;
    else agent = a;
  };
  if (p.listener !== null) claim(gw.byListen.get(p.listener));
  if (p.header === 'malformed') conflict = true;
  else if (p.header !== null) {
    const a = gw.authenticate(p.header.token);
    claim(a !== null && p.header.name !== null && p.header.name !== a.name ? null : a);
    token = p.header.token;
  }
  if (p.segment !== null) {
    claim(gw.authenticate(p.segment));
    token ??= p.segment;
  }
  if (conflict || agent === null) throw denied();
  return { agent, token };
}

/**
 * Identify the agent of a request or CONNECT arriving on the proxy listener (`listener`
 * null) or on a dedicated one. Also returns what was presented, for a tunnel to keep.
 */
export function identifyAgent(gw: Gateway | null, req: IncomingMessage, listener = listenerOf(req.socket)): { caller: Caller; presented: Presented } | null {
  if (gw === null) {
    // A dedicated listener outlives its agents only until the reload closes it: refuse meanwhile.
    if (listener !== null) throw denied();
    return null;
  }
  const presented = presentedBy(req, null, listener);
  return { caller: identify(gw, presented), presented };
}

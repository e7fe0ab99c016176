/**
 * Header hygiene for both directions (invariants I2, I6, I9).
 *
 * Inbound: refuse duplicated singleton headers and protected names in `Connection`
 * before any vault call. Outbound: strip hop-by-hop headers (RFC 9110 §7.6.1), every
 * header named in `Connection`, proxy-only and method/URL override headers, framing
 * headers (regenerated, never copied), and on credential routes every credential-bearing
 * header the agent sent; then add exactly one header from the vault. Outbound headers
 * are built from Node's lowercase map, never from `rawHeaders`.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { SidecarError } from '../errors.js';
import type { Secret } from '../credentials/secret.js';
import { isForwardingHeader, narrowAcceptEncoding, type RequestHeaderPolicy } from './header-policy.js';

/** Never forwarded in either direction: RFC 9110 §7.6.1 hop-by-hop plus framing we regenerate (I9). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'expect',
  'content-length',
  'host',
]);

/** Proxy-only and override headers: the agent must not steer the upstream through these (I6). */
const REQUEST_ONLY_STRIP = new Set([
  'proxy-authorization',
  'proxy-authenticate',
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
  'x-original-url',
  'x-rewrite-url',
  'x-original-method',
]);

/** Where SDKs put placeholder keys; removed on every credential route so exactly one credential leaves. */
const CREDENTIAL_BEARING = new Set(['authorization', 'x-api-key', 'api-key']);

/** Headers that may appear once; Node silently keeps the first copy of some, so we look at rawHeaders. */
const SINGLETONS = new Set(['host', 'authorization', 'proxy-authorization', 'content-length', 'x-api-key', 'api-key']);

/** Names an agent may not list in `Connection`: dropping them would change framing, routing or credentials. */
const PROTECTED_CONNECTION_TOKENS = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'authorization',
  'proxy-authorization',
  'cookie',
  'x-api-key',
  'api-key',
  'te',
]);

/** Response headers the sidecar owns; an upstream cannot forge them. */
const RESPONSE_STRIP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authenticate',
  'x-sanctum-error',
]);

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

/**
 * Validate the agent's headers before anything else happens (no vault call on a bad request).
 * Returns the lowercase names listed in `Connection` (to strip), or null when there is none.
 */
export function inspectRequestHeaders(
  rawHeaders: readonly string[],
  headers: IncomingHttpHeaders,
  extraSingleton?: string,
): Set<string> | null {
  let seen = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    // Cheap pre-filter on length before lowercasing: every singleton is 4..19 chars.
    if (name.length < 4 || name.length > 19) {
      if (extraSingleton === undefined) continue;
    }
    const lower = name.toLowerCase();
    let bit = 0;
    if (SINGLETONS.has(lower) || lower === extraSingleton) {
      bit = singletonBit(lower);
      if (seen & bit) {
        throw new SidecarError('DUPLICATE_HEADER', { message: `The ${lower} header was sent more than once.` });
      }
      seen |= bit;
    }
  }

  // Only the chunked coding is undone by the parser; any other (gzip, chunked) would be
  // forwarded as if it were identity, so the upstream would read a different body (RFC 9112 §6.1).
  const te = headers['transfer-encoding'];
  if (te !== undefined && te.trim().toLowerCase() !== 'chunked') {
    throw new SidecarError('BAD_REQUEST', { message: 'Only the chunked transfer coding is accepted.' });
  }

  const connection = headers.connection;
  if (connection === undefined) return null;
  const tokens = new Set<string>();
  for (const part of connection.split(',')) {
    const t = part.trim().toLowerCase();
    if (t === '') continue;
    if (!TOKEN.test(t)) throw new SidecarError('FORBIDDEN_HEADER', { message: 'The Connection header is malformed.' });
    if (PROTECTED_CONNECTION_TOKENS.has(t) || t === extraSingleton) {
      throw new SidecarError('FORBIDDEN_HEADER', { message: `The Connection header may not name ${t}.` });
    }
    tokens.add(t);
  }
  return tokens;
}

function singletonBit(lower: string): number {
  switch (lower) {
    case 'host':
      return 1;
    case 'authorization':
      return 2;
    case 'proxy-authorization':
      return 4;
    case 'content-length':
      return 8;
    case 'x-api-key':
      return 16;
    case 'api-key':
      return 32;
    default:
      return 64; // the route's own injected header name
  }
}

export interface InjectedHeader {
  /** Lowercase header name. */
  readonly name: string;
  readonly value: Secret;
}

export interface OutboundHeaders {
  /** Flat `[name, value, ...]` list for undici. */
  readonly list: string[];
  /** True when the agent had sent its own copy of the injected header (counted as `replaced_agent_header`). */
  readonly replacedAgentHeader: boolean;
}

/**
 * Build the upstream request headers: strip, then inject, then freeze (I6).
 * `credentialRoute` strips every credential-bearing header even when injection is
 * delegated or absent; `injected` is the one header added back.
 */
export function buildUpstreamHeaders(
  headers: IncomingHttpHeaders,
  connectionTokens: Set<string> | null,
  opts: {
    readonly authority: string;
    readonly credentialRoute: boolean;
    readonly keepCookies: boolean;
    readonly injected: InjectedHeader | null;
    readonly contentLength: string | undefined;
    /** The route's header policy (header-policy.ts): forwarding headers, set/remove, Accept-Encoding. */
    readonly policy?: RequestHeaderPolicy;
  },
): OutboundHeaders {
  const list: string[] = ['host', opts.authority];
  const injectedName = opts.injected?.name;
  const policy = opts.policy;
  let replaced = false;
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || REQUEST_ONLY_STRIP.has(name)) continue;
    if (connectionTokens !== null && connectionTokens.has(name)) continue;
    if (name.charCodeAt(0) === 120 /* x */ && name.startsWith('x-sanctum-')) continue;
    // Route policy: forwarding headers the agent could forge, and headers the route removes or sets.
    if (policy !== undefined && (policy.drop.has(name) || (policy.stripForwarding && isForwardingHeader(name)))) continue;
    if (opts.credentialRoute) {
      if (name === injectedName) {
        replaced = true;
        continue;
      }
      if (CREDENTIAL_BEARING.has(name)) continue;
      if (name === 'cookie' && !opts.keepCookies) continue;
    }
    const value = headers[name];
    if (value === undefined) continue;
    if (name === 'accept-encoding' && policy?.narrowAcceptEncoding === true) {
      const narrowed = narrowAcceptEncoding(typeof value === 'string' ? value : value.join(', '));
      if (narrowed !== null) list.push(name, narrowed);
      continue;
    }
    if (typeof value === 'string') list.push(name, value);
    else for (const v of value) list.push(name, v);
  }
  if (policy !== undefined) for (let i = 0; i < policy.add.length; i++) list.push(policy.add[i]!);
  // Framing is regenerated from the parser's validated value, never copied from raw bytes (I9).
  if (opts.contentLength !== undefined) list.push('content-length', opts.contentLength);
  if (opts.injected !== null) list.push(opts.injected.name, opts.injected.value.reveal());
  return { list, replacedAgentHeader: replaced };
}

/**
 * Filter an upstream response's raw headers for the agent: drop hop-by-hop headers,
 * anything the upstream listed in its own `Connection`, and `x-sanctum-error`; with
 * `dropSetCookie` (credential routes without keep_cookies, header-policy.ts), Set-Cookie.
 */
export function filterResponseHeaders(raw: readonly Buffer[], dropSetCookie = false): string[] {
  const out: string[] = [];
  let connectionTokens: Set<string> | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1').toLowerCase();
    if (name === 'connection') {
      connectionTokens ??= new Set();
      for (const t of raw[i + 1]!.toString('latin1').split(',')) connectionTokens.add(t.trim().toLowerCase());
      continue;
    }
    if (RESPONSE_STRIP.has(name)) continue;
    if (dropSetCookie && name === 'set-cookie') continue;
    out.push(name, raw[i + 1]!.toString('latin1'));
  }
  if (connectionTokens === null) return out;
  const kept: string[] = [];
  for (let i = 0; i < out.length; i += 2) {
    if (!connectionTokens.has(out[i]!)) kept.push(out[i]!, out[i + 1]!);
  }
  return kept;
}

/** Response-header filter for the object form (delegate answers from the vault). */
export function filterResponseHeaderObject(h: Record<string, string | string[]>, dropSetCookie = false): string[] {
  const out: string[] = [];
  for (const key of Object.keys(h)) {
    const name = key.toLowerCase();
    if (RESPONSE_STRIP.has(name) || name === 'content-length' || name === 'content-encoding') continue;
    if (dropSetCookie && name === 'set-cookie') continue;
    if (!TOKEN.test(name)) continue;
    const v = h[key];
    if (typeof v === 'string') out.push(name, v);
    else if (Array.isArray(v)) for (const x of v) if (typeof x === 'string') out.push(name, x);
  }
  return out;
}

/** Whether an incoming request carries a body (by its validated framing headers). */
export function hasRequestBody(headers: IncomingHttpHeaders): boolean {
  const cl = headers['content-length'];
  if (cl !== undefined) return cl !== '0';
  return headers['transfer-encoding'] !== undefined;
}

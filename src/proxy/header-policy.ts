/**
 * Per-route header policy, on top of the fixed hygiene of headers.ts (I6, I9):
 *
 *   forwarding headers  Forwarded, X-Forwarded-*, X-Real-IP, X-Client-IP, True-Client-IP,
 *                       CF-Connecting-IP and Via are the agent's to forge: an upstream
 *                       that trusts them would see whatever address or host the agent
 *                       chose. Stripped on every forwarded request (passthrough too)
 *                       unless the route says `keep_forwarding_headers: true`.
 *   headers.set/remove  a set header replaces whatever the agent sent (so an agent
 *                       cannot switch the organisation of a multi-org key); a removed
 *                       one is never forwarded.
 *   Accept-Encoding     narrowed to codings the response guard can inflate, on routes
 *                       whose answers it searches (proxy/response-guard.ts).
 *   Set-Cookie          dropped from answers on credential routes unless the route keeps
 *                       cookies: a session cookie minted for the injected key is a
 *                       derived credential (`keep_cookies` governs both directions).
 *
 * Policies are computed once per route object (a reload makes new routes) and cached.
 */
import type { Route } from '../config/types.js';
import { INFLATABLE } from './guard-inflate.js';

export interface RequestHeaderPolicy {
  /** Lowercase names never forwarded from the agent (removed, or replaced by `add`). */
  readonly drop: ReadonlySet<string>;
  /** Headers the route sets, flat `[name, value, ...]`, appended after the agent's. */
  readonly add: readonly string[];
  readonly stripForwarding: boolean;
  /** Narrow the agent's Accept-Encoding to what the response guard can inflate. */
  readonly narrowAcceptEncoding: boolean;
}

const FORWARDING = new Set(['forwarded', 'x-real-ip', 'x-client-ip', 'true-client-ip', 'cf-connecting-ip', 'via']);

/** Headers that claim where a request came from or went through (RFC 7239, RFC 9110 §7.6.3, and vendors' X- forms). */
export function isForwardingHeader(name: string): boolean {
  return FORWARDING.has(name) || name.startsWith('x-forwarded-');
}

const NO_NAMES: ReadonlySet<string> = new Set();
/** No route (passthrough): strip the forwarding headers, nothing else. */
const PASSTHROUGH: RequestHeaderPolicy = Object.freeze({ drop: NO_NAMES, add: Object.freeze([]), stripForwarding: true, narrowAcceptEncoding: false });
const byRoute = new WeakMap<Route, RequestHeaderPolicy>();

/** The request header policy of a route (null: passthrough). */
export function requestPolicyFor(route: Route | null): RequestHeaderPolicy {
  if (route === null) return PASSTHROUGH;
  let p = byRoute.get(route);
  if (p === undefined) {
    const narrow = route.responseGuard !== 'off';
    const add: string[] = [];
    for (const [name, value] of route.headers.set) {
      const v = narrow && name === 'accept-encoding' ? narrowAcceptEncoding(value) : value;
      if (v !== null) add.push(name, v);
    }
    p = Object.freeze({
      drop: new Set([...route.headers.remove, ...route.headers.set.map(([n]) => n)]),
      add: Object.freeze(add),
      stripForwarding: !route.keepForwardingHeaders,
      narrowAcceptEncoding: narrow,
    });
    byRoute.set(route, p);
  }
  return p;
}

/**
 * Keep only codings the response guard can inflate (and identity), with their
 * parameters; null when none is left (the header is then not sent: identity).
 */
export function narrowAcceptEncoding(value: string): string | null {
  const kept: string[] = [];
  for (const part of value.split(',')) {
    const item = part.trim();
    const coding = item.split(';')[0]!.trim().toLowerCase();
    if (coding === 'identity' || INFLATABLE.has(coding)) kept.push(item);
  }
  return kept.length === 0 ? null : kept.join(', ');
}

/** Whether answers on this route lose their Set-Cookie headers (null: passthrough keeps them). */
export function dropsSetCookie(route: Route | null): boolean {
  return route !== null && route.credential !== null && !route.keepCookies;
}

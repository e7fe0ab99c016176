/**
 * The routing decision, made in one place for every consumer: the proxy's pipeline
 * (each live request), its CONNECT handler, `sanctum-sidecar explain` and the admin
 * `/explain` endpoint. It takes what the proxy has once a request is parsed (method,
 * parsed target or prefix path, Host header, identified agent) and answers route,
 * passthrough or deny with the catalogue code the agent would receive.
 *
 * Order (the order the proxy answers in):
 *   1 TRACE/TRACK are never forwarded (they would reflect the injected credential)
 *   2 gateway mode without an identified agent: 407
 *   3 match by form: host (absolute, inside tunnels), prefix, then the opt-in
 *     host-header form (a route's exact host only), CONNECT authority
 *   4 the agent's route access (gateway mode)
 *   5 passthrough only over plain http (https goes through CONNECT), never for the
 *     origin-forms (the agent's DNS points those at the sidecar)
 * It never throws and never touches the network or the vault.
 */
import { SidecarError, toSidecarError, type ErrorCode } from '../errors.js';
import type { RouteTable } from './matcher.js';
import type { ParsedRequest } from './request.js';
import type { Route } from './route.js';
import { parseHostHeader } from './target.js';
import type { MatchResult, RequestForm } from './types.js';

/** What decide needs to know about an agent (gateway mode): its name and the routes it may use. */
export interface AgentAccess {
  readonly name: string;
  readonly routes: ReadonlySet<string>;
}

/** The parts of a configuration snapshot the decision reads (a proxy Snapshot is one). */
export interface RoutingView {
  readonly table: RouteTable;
  /** Gateway mode (`agents:`): agents by name and by proxy token; null for the single-agent sidecar. */
  readonly gateway: {
    readonly agents: ReadonlyMap<string, AgentAccess>;
    authenticate(token: string): AgentAccess | null;
  } | null;
  /** A CA is configured, so TLS to a routed host inside CONNECT is intercepted. */
  readonly interception: boolean;
}

export interface DecisionInput {
  readonly method: string;
  readonly request: ParsedRequest;
  readonly hostHeader: string | undefined;
  /** The identified agent in gateway mode; null otherwise. */
  readonly agent: AgentAccess | null;
  /** CONNECT only: the tunnel will carry TLS as far as can be told before answering. */
  readonly tls?: boolean;
}

export type Decision =
  | {
      readonly kind: 'route';
      readonly form: RequestForm;
      readonly route: Route;
      /** For the log: the target's host, or the route's upstream host for the prefix form. */
      readonly host: string;
      /** Path and query to send upstream (route base path + remainder); '' for CONNECT. */
      readonly upstreamPath: string;
    }
  | {
      readonly kind: 'passthrough';
      readonly form: RequestForm;
      readonly host: string;
      readonly port: number;
      /** Path and query to send ('' for CONNECT: bytes are tunnelled). */
      readonly path: string;
    }
  | {
      readonly kind: 'deny';
      readonly form: RequestForm;
      readonly code: ErrorCode;
      /** A specific safe message, when the catalogue's default is not precise enough. */
      readonly message: string | undefined;
      /** The route, when one matched but may not be used (AGENT_ROUTE_DENIED). */
      readonly route: Route | null;
      readonly host: string | null;
    };

/** Methods that would reflect the injected credential back to the agent. */
const REFLECTING_METHODS = new Set(['TRACE', 'TRACK']);

/** True for TRACE and TRACK, refused before anything else (also by the proxy before authentication). */
export function isReflectingMethod(method: string): boolean {
  return REFLECTING_METHODS.has(method);
}

function deny(form: RequestForm, err: SidecarError, host: string | null, route: Route | null = null): Decision {
  return { kind: 'deny', form, code: err.code, message: err.message, route, host };
}

/** Decide what happens to one parsed request on this snapshot. */
export function decide(view: RoutingView, input: DecisionInput): Decision {
  const p = input.request;
  const method = input.method;
  const host0 = p.form === 'prefix' ? null : p.form === 'connect' ? p.host : p.target.host;
  if (isReflectingMethod(method)) return deny(p.form, new SidecarError('METHOD_DENIED', { message: 'TRACE is never forwarded.' }), host0);
  if (view.gateway !== null && input.agent === null) return deny(p.form, new SidecarError('PROXY_AUTH_REQUIRED'), host0);
  if (p.form === 'connect') return decideConnect(view, p.host, p.port, input.tls ?? p.port === 443);

  let form: RequestForm = p.form;
  let host = host0;
  let query: string;
  let match: MatchResult;
  if (p.form === 'prefix') {
    query = p.query;
    const m = view.table.matchPrefix(method, p.path);
    if (m !== null) match = m;
    else if (!view.table.hostHeaderForm) {
      return deny(form, new SidecarError('BAD_TARGET', { message: 'This origin-form request matches no route prefix.' }), null);
    } else {
      // Opt-in host-header form: the Host header names a route's exact host.
      form = 'host-header';
      if (input.hostHeader === undefined) return deny(form, new SidecarError('BAD_TARGET', { message: 'The request has no Host header.' }), null);
      let hp: { host: string; port: number };
      try {
        hp = parseHostHeader(input.hostHeader, 'http');
      } catch (err) {
        return deny(form, toSidecarError(err), null);
      }
      host = hp.host;
      match = view.table.routeForHostHeaderForm(method, hp.host, hp.port, p.path) ?? { kind: 'deny', code: 'NO_ROUTE' };
    }
  } else {
    query = p.target.query;
    match = view.table.matchHost(method, p.target);
  }

  switch (match.kind) {
    case 'deny':
      return deny(form, new SidecarError(match.code), host);
    case 'route': {
      const route = match.route;
      const routeHost = host ?? route.upstream.host;
      if (view.gateway !== null && input.agent !== null && !input.agent.routes.has(route.name)) {
        return deny(form, new SidecarError('AGENT_ROUTE_DENIED'), routeHost, route);
      }
      return { kind: 'route', form, route, host: routeHost, upstreamPath: match.upstreamPath + query };
    }
    case 'passthrough': {
      if (p.form === 'prefix') return deny(form, new SidecarError('NO_ROUTE'), host);
      const t = p.target;
      if (t.scheme !== 'http') return deny(form, new SidecarError('BAD_TARGET', { message: 'https:// targets must use CONNECT.' }), t.host);
      return { kind: 'passthrough', form, host: t.host, port: t.port, path: t.path + t.query };
    }
  }
}

/**
 * CONNECT: a host some route covers gets a tunnel whose requests are decided one by one
 * (TLS needs the interception CA: 403 INTERCEPT_DISABLED without one); an allowed host
 * without routes gets a byte tunnel; anything else is NO_ROUTE. Nothing is dialled here.
 */
function decideConnect(view: RoutingView, host: string, port: number, tls: boolean): Decision {
  const routes = view.table.routesForHost(host, port);
  if (routes.length > 0) {
    if (tls && !view.interception) return deny('connect', new SidecarError('INTERCEPT_DISABLED'), host, routes[0]!);
    return { kind: 'route', form: 'connect', route: routes[0]!, host, upstreamPath: '' };
  }
  if (view.table.isAllowedPassthrough(host, port, 'tunnel')) return { kind: 'passthrough', form: 'connect', host, port, path: '' };
  return deny('connect', new SidecarError('NO_ROUTE'), host);
}

/**
 * `explain`: what the proxy would do with a request, without calling the vault or
 * the network. Shared by `sanctum-sidecar explain` and the admin `/explain` endpoint.
 * It matches nothing itself: it turns the URL a user typed into the request the proxy
 * would receive, parses it with the adapters' parsers (routing/request) and asks the
 * one routing decision (routing/decide), so it cannot disagree with the live proxy.
 *
 * Which request a URL stands for:
 *   `/openai/v1/...`                    origin-form on the listener (prefix, or host-header
 *                                        form with `host`)
 *   `http://<the sidecar>/openai/v1/..`  a base URL (what `env` prints): the same origin-form
 *                                        request, with that authority as its Host; a URL on
 *                                        an agent's dedicated listener is that agent
 *   `http://.../_agent/<token>/...`     gateway base URL: the token identifies the agent
 *   `http(s)://api.example.com/...`     absolute-form (HTTP_PROXY); `host` is its Host header
 *   `CONNECT api.example.com:443`       a CONNECT authority (HTTPS_PROXY)
 */
import { SidecarError, toSidecarError } from '../errors.js';
import { decide, type AgentAccess, type Decision, type RoutingView } from './decide.js';
import { formOf, parseRequest, splitAgentSegment, type ParsedRequest } from './request.js';
import { parseAbsoluteTarget } from './target.js';
import type { RequestForm } from './types.js';

/** What a user asks about: the request as an agent would send it. */
export interface ExplainInput {
  readonly method: string;
  readonly url: string;
  /** The Host header (host-header form; absolute-form checks it against the URL). */
  readonly host?: string | undefined;
  /** Gateway mode: the agent the request is made as (what its proxy token proves). */
  readonly agent?: string | undefined;
}

/** An address the proxy listens on; `agent` for an agent's dedicated listener. */
export interface ListenerAddress {
  readonly host: string;
  readonly port: number;
  readonly agent?: string | undefined;
}

export interface Explanation {
  readonly method: string;
  /** The URL as given, with a `/_agent/<token>` segment's token redacted. */
  readonly url: string;
  /** route | passthrough | deny (403/407) | refused (400: the request itself is malformed). */
  readonly decision: 'route' | 'passthrough' | 'deny' | 'refused';
  readonly form: RequestForm | null;
  readonly agent: string | null;
  readonly route: string | null;
  readonly credential: string | null;
  readonly mode: string | null;
  readonly header: string | null;
  readonly upstream: string | null;
  readonly cache_ttl_ms: number | null;
  readonly code: string | null;
  readonly reason: string | null;
}

/** Explain one request on this snapshot; `listeners` are the proxy's own addresses. */
export function explain(view: RoutingView, input: ExplainInput, listeners: readonly ListenerAddress[] = []): Explanation {
  const method = input.method.toUpperCase();
  const base = { method, url: redactAgentToken(input.url) };
  let form: RequestForm | null = null;
  let agentName: string | null = null;
  try {
    const r = readRequest(view, method, input, listeners);
    form = r.request.form;
    agentName = r.agent?.name ?? null;
    const d = decide(view, { method, request: r.request, hostHeader: r.hostHeader, agent: r.agent });
    return describe(base, d, agentName);
  } catch (err) {
    const e = toSidecarError(err);
    return { ...empty(base, form, agentName), decision: e.status === 400 ? 'refused' : 'deny', code: e.code, reason: e.message };
  }
}

interface ReadRequest {
  readonly request: ParsedRequest;
  readonly hostHeader: string | undefined;
  readonly agent: AgentAccess | null;
}

/** The request the proxy would receive for this URL, and who it would be from. Throws catalogued errors. */
function readRequest(view: RoutingView, method: string, input: ExplainInput, listeners: readonly ListenerAddress[]): ReadRequest {
  const url = input.url;
  const who = new Identity(view, input.agent);
  if (method === 'CONNECT') {
    // `CONNECT host:port`; a URL is accepted for convenience and reduced to its authority.
    const authority = /^https?:\/\//i.test(url) ? authorityOf(url) : url;
    return { request: parseRequest('connect', authority, input.host), hostHeader: input.host, agent: who.agent() };
  }
  let origin: string | null = null;
  let hostHeader = input.host;
  if (url.startsWith('/')) {
    origin = url;
  } else if (formOf(method, url) === 'absolute') {
    const t = parseAbsoluteTarget(url);
    const own = listeners.find((l) => l.port === t.port && sameHost(l.host, t.host));
    const path = t.path + t.query;
    if (own !== undefined || (view.gateway !== null && splitAgentSegment(path) !== null)) {
      // A base URL: the agent sends origin-form to the sidecar, with the sidecar's authority as Host.
      origin = path;
      hostHeader ??= authorityOf(url);
      if (own?.agent !== undefined) who.claim(own.agent);
    }
  }
  if (origin === null) return { request: parseRequest(formOf(method, url), url, hostHeader), hostHeader, agent: who.agent() };
  if (view.gateway !== null) {
    const split = splitAgentSegment(origin);
    if (split !== null) {
      origin = split.url;
      who.claimToken(split.token);
    }
  }
  return { request: parseRequest('prefix', origin, hostHeader), hostHeader, agent: who.agent() };
}

/** Gateway identification for explain: every claim (name, listener, token) must name the same agent. */
class Identity {
  #agent: AgentAccess | null = null;
  #conflict = false;
  constructor(
    private readonly view: RoutingView,
    name: string | undefined,
  ) {
    if (name !== undefined && name !== '') this.claim(name);
  }

  claim(name: string): void {
    this.#set(this.view.gateway?.agents.get(name) ?? null);
  }

  claimToken(token: string): void {
    this.#set(this.view.gateway?.authenticate(token) ?? null);
  }

  #set(a: AgentAccess | null): void {
    if (a === null || (this.#agent !== null && this.#agent !== a)) this.#conflict = true;
    else this.#agent = a;
  }

  /** The agent, null outside gateway mode; 407 when a claim was unknown or claims disagree. */
  agent(): AgentAccess | null {
    if (this.view.gateway === null) return null;
    if (this.#conflict) throw new SidecarError('PROXY_AUTH_REQUIRED');
    return this.#agent;
  }
}

/** `host[:port]` of an http(s) URL, as written. */
function authorityOf(url: string): string {
  const rest = url.slice(url.indexOf('://') + 3);
  const end = rest.search(/[/?#]/);
  return end < 0 ? rest : rest.slice(0, end);
}

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|::1)$/;
const UNSPECIFIED = new Set(['0.0.0.0', '::']);

/** Does a URL host reach a listener bound to `bound`? Same name, or loopback names for a loopback or wildcard bind. */
function sameHost(bound: string, host: string): boolean {
  if (bound === host) return true;
  return LOOPBACK.test(host) && (LOOPBACK.test(bound) || UNSPECIFIED.has(bound));
}

function redactAgentToken(url: string): string {
  return url.replace(/\/_agent\/[^/?#]*/, '/_agent/[REDACTED]');
}

function describe(base: { method: string; url: string }, d: Decision, agent: string | null): Explanation {
  switch (d.kind) {
    case 'route': {
      const r = d.route;
      const header =
        r.credential === null
          ? null
          : r.inject.headerType === 'custom'
            ? `${r.inject.headerName}`
            : r.inject.headerType === 'api_key'
              ? 'x-api-key'
              : `authorization (${r.inject.headerType})`;
      return {
        ...base,
        decision: 'route',
        form: d.form,
        agent,
        route: r.name,
        // The path the vault would be asked for: `{agent}` is the calling agent (a whole segment).
        credential: agent === null || r.credential === null ? r.credential : r.credential.split('{agent}').join(agent),
        mode: r.credential === null ? 'forward' : r.mode,
        header,
        upstream: r.upstream.origin + d.upstreamPath,
        cache_ttl_ms: r.cacheTtlMs,
        code: null,
        reason: d.form === 'connect' ? 'a tunnel to a routed host: each request inside is matched like any other' : null,
      };
    }
    case 'passthrough': {
      const h = d.host.includes(':') ? `[${d.host}]` : d.host;
      const upstream = d.form === 'connect' ? `${h}:${d.port}` : `http://${h}${d.port === 80 ? '' : `:${d.port}`}${d.path}`;
      const reason = d.form === 'connect' ? 'allowed host: a byte tunnel without credentials' : 'allowed host: forwarded without credentials';
      return { ...empty(base, d.form, agent), decision: 'passthrough', upstream, reason };
    }
    case 'deny': {
      const status = new SidecarError(d.code).status;
      return { ...empty(base, d.form, agent), decision: status === 400 ? 'refused' : 'deny', route: d.route?.name ?? null, code: d.code, reason: d.message ?? null };
    }
  }
}

function empty(base: { method: string; url: string }, form: RequestForm | null, agent: string | null): Explanation {
  return { ...base, decision: 'deny', form, agent, route: null, credential: null, mode: null, header: null, upstream: null, cache_ttl_ms: null, code: null, reason: null };
}


/**
 * `explain`: which route a request would take, its credential path, mode and upstream,
 * without calling the vault. Shared by the CLI and the admin endpoint, and built on
 * the same parser and matcher as the data path so it cannot disagree with it.
 */
import { toSidecarError } from '../errors.js';
import type { Snapshot } from '../proxy/snapshot.js';
import { parseAbsoluteTarget, parseHostHeader, parseOriginTarget } from './target.js';
import type { MatchResult } from './types.js';

export interface Explanation {
  readonly method: string;
  readonly url: string;
  readonly decision: 'route' | 'passthrough' | 'deny' | 'refused';
  readonly route: string | null;
  readonly credential: string | null;
  readonly mode: string | null;
  readonly header: string | null;
  readonly upstream: string | null;
  readonly cache_ttl_ms: number | null;
  readonly code: string | null;
  readonly reason: string | null;
}

/** What else the proxy would see: the Host header of an origin-form request, the gateway agent. */
export interface ExplainContext {
  readonly host?: string;
  readonly agent?: string;
}

export function explain(snap: Snapshot, method: string, url: string, ctx: ExplainContext = {}): Explanation {
  const base = { method, url };
  try {
    // Gateway agent: the route must be one of the agent's (AGENT_ROUTE_DENIED otherwise).
    if (ctx.agent !== undefined) {
      const agent = snap.config.agents.find((a) => a.name === ctx.agent);
      if (agent === undefined) return refusal(base, 'refused', 'PROXY_AUTH_REQUIRED', `no agent named ${ctx.agent} in agents:`);
      const e = explain(snap, method, url, { ...(ctx.host === undefined ? {} : { host: ctx.host }) });
      if (e.decision !== 'route' || e.route === null) return e;
      if (!agent.routes.includes(e.route)) return refusal(base, 'deny', 'AGENT_ROUTE_DENIED', `agent ${agent.name} may not use route ${e.route}`);
      return { ...e, credential: e.credential?.replaceAll('{agent}', agent.name) ?? null };
    }
    let match: MatchResult | null;
    if (url.startsWith('/')) {
      const { path, query } = parseOriginTarget(url);
      match = snap.table.matchPrefix(method, path);
      if (match !== null && match.kind === 'route') return fromRoute(base, match, query);
      // Host-header form (opt-in): an origin-form request routed by its Host header.
      if (match === null && ctx.host !== undefined && snap.config.egress.hostHeaderForm) {
        const hp = parseHostHeader(ctx.host, 'http');
        match = snap.table.matchHost(method, { scheme: 'http', host: hp.host, port: hp.port, path, query });
        if (match.kind === 'route') return fromRoute(base, match, query);
        return refusal(base, 'deny', match.kind === 'passthrough' ? 'NO_ROUTE' : match.code, 'no route for this Host header');
      }
      return refusal(base, 'deny', 'BAD_TARGET', 'no route prefix matches this path');
    }
    const target = parseAbsoluteTarget(url);
    match = snap.table.matchHost(method, target);
    switch (match.kind) {
      case 'route':
        return fromRoute(base, match, target.query);
      case 'passthrough':
        return { ...empty(base), decision: 'passthrough', reason: 'allow-listed host, forwarded without credentials' };
      case 'deny':
        return refusal(base, 'deny', match.code, match.code === 'NO_ROUTE' ? 'no route for this host' : 'no route allows this method and path');
    }
  } catch (err) {
    const e = toSidecarError(err);
    return refusal(base, 'refused', e.code, e.message);
  }
}

function fromRoute(base: { method: string; url: string }, m: Extract<MatchResult, { kind: 'route' }>, query: string): Explanation {
  const r = m.route;
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
    route: r.name,
    credential: r.credential,
    mode: r.credential === null ? 'forward' : r.mode,
    header,
    upstream: r.upstream.origin + m.upstreamPath + query,
    cache_ttl_ms: r.cacheTtlMs,
    code: null,
    reason: null,
  };
}

function empty(base: { method: string; url: string }): Explanation {
  return { ...base, decision: 'deny', route: null, credential: null, mode: null, header: null, upstream: null, cache_ttl_ms: null, code: null, reason: null };
}

function refusal(base: { method: string; url: string }, decision: 'deny' | 'refused', code: string, reason: string): Explanation {
  return { ...empty(base), decision, code, reason };
}

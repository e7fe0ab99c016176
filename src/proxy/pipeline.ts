/**
 * The one data path (DESIGN "One data path"). Every request form ends here:
 *
 *   1 match    Target → Route | passthrough | deny            (routing/matcher)
 *     gate     gateway mode: route ACL, tripwires, rate limits (gateway/)
 *   2 resolve  Route → the vault's header (cache, single-flight) (credentials/resolver)
 *   3 inject   strip, then add exactly one header              (proxy/headers)
 *   4 forward  undici, streamed both ways — or delegate to the vault
 *   5 record   one canonical log line + metrics, when the response closes
 *
 * Adapters (absolute-form, prefix, host-header, inside CONNECT) parse the request
 * target and call `handle`; they never talk to the vault or undici themselves.
 * Any failure goes through `toReply()`; nothing is sent upstream without its credential.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Route } from '../config/types.js';
import type { Target, RequestForm, MatchResult } from '../routing/types.js';
import { SidecarError, toReply, toSidecarError, type ErrorCode } from '../errors.js';
import type { CredentialResolver, CredentialSource, ResolvedHeader } from '../credentials/resolver.js';
import { buildUpstreamHeaders, hasRequestBody, inspectRequestHeaders } from './headers.js';
import { forward, type Upstreams } from './forward.js';
import { type DelegateSource, delegateRequest } from './delegate.js';
import type { Snapshot } from './snapshot.js';
import { parseHostHeader } from '../routing/target.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Logger } from '../log.js';
import { RequestState } from './request-state.js';
import { outcomeOf, recordRequest } from './record.js';
import type { AgentEntry } from '../gateway/agents.js';
import type { Caller } from '../gateway/auth.js';
import type { Limiter } from '../gateway/limits.js';
import { admit, admitBody } from '../gateway/gate.js';

/** What an adapter hands the pipeline; `caller` is the identified agent in gateway mode. */
export type Intent = (
  | { readonly form: Exclude<RequestForm, 'prefix' | 'connect' | 'host-header'>; readonly target: Target }
  | { readonly form: 'prefix'; readonly path: string; readonly query: string }
) & { readonly caller?: Caller | undefined };

export interface PipelineDeps {
  readonly snapshot: () => Snapshot;
  /** The vault session of an agent (null: the top-level identity; replaced when a reload changes it). */
  readonly vault: (agent: AgentEntry | null) => CredentialSource & DelegateSource;
  readonly resolver: CredentialResolver;
  readonly limiter: Limiter;
  readonly upstreams: Upstreams;
  readonly metrics: Metrics;
  readonly log: Logger;
}

export class Pipeline {
  readonly #d: PipelineDeps;
  /** Delegate exchanges waiting on the vault; bounded so a slow vault cannot pile up calls. */
  #delegatesInFlight = 0;
  /** Forward stages for deliberate WebSocket upgrades, keyed by the response they answer (proxy/websocket). */
  readonly #upgrades = new WeakMap<ServerResponse, typeof forward>();

  constructor(deps: PipelineDeps) {
    this.#d = deps;
  }

  /**
   * Mark `res` as answering a WebSocket upgrade: the request then runs through the same
   * match, resolve and inject stages, and only the forward stage is `fwd`.
   */
  expectUpgrade(res: ServerResponse, fwd: typeof forward): void {
    this.#upgrades.set(res, fwd);
  }

  /** Run a request through the stages. Never throws; every failure becomes a catalogued reply. */
  handle(req: IncomingMessage, res: ServerResponse, intent: Intent): void {
    const st = new RequestState(req, intent.form);
    st.caller = intent.caller ?? null;
    res.once('close', () => recordRequest(this.#d, st, res));
    try {
      const snap = this.#d.snapshot();
      const method = req.method ?? 'GET';
      st.retryBufferBytes = snap.config.limits.retryBufferBytes;

      // 1 match: the canonical target (or prefix) against the route table of this snapshot (I13).
      let match: MatchResult;
      let query: string;
      if (intent.form === 'prefix') {
        const m = snap.table.matchPrefix(method, intent.path);
        query = intent.query;
        if (m !== null) match = m;
        else if (!snap.config.egress.hostHeaderForm) {
          throw new SidecarError('BAD_TARGET', { message: 'This origin-form request matches no route prefix.' });
        } else {
          // Opt-in host-header form: the Host header names a route's exact host.
          const host = req.headers.host;
          if (host === undefined) throw new SidecarError('BAD_TARGET', { message: 'The request has no Host header.' });
          const hp = parseHostHeader(host, 'http');
          st.form = 'host-header';
          st.host = hp.host;
          match = snap.table.matchHost(method, { scheme: 'http', host: hp.host, port: hp.port, path: intent.path, query });
          if (match.kind === 'passthrough') match = { kind: 'deny', code: 'NO_ROUTE' };
        }
      } else {
        st.host = intent.target.host;
        match = snap.table.matchHost(method, intent.target);
        query = intent.target.query;
      }
      const route = match.kind === 'route' ? match.route : null;
      st.route = route;
      if (route !== null) st.host ??= route.upstream.host;

      // Bad framing or protected names are refused before any vault call (I2).
      const connectionTokens = inspectRequestHeaders(
        req.rawHeaders,
        req.headers,
        route?.inject.headerName,
      );
      if (match.kind === 'deny') throw new SidecarError(match.code);
      if (match.kind === 'passthrough' && (intent.form === 'prefix' || st.form === 'host-header')) throw new SidecarError('NO_ROUTE');

      // gate (gateway mode, or a rate-limited route): ACL, tripwires, limits; a body is searched before resolve.
      if (st.caller !== null || route?.rateLimit !== undefined) {
        const needles = admit(this.#d, snap.gateway, st, req, intent.form === 'prefix' ? intent.path : intent.target.path, query);
        if (needles !== null && hasRequestBody(req.headers)) {
          admitBody(this.#d, st, req, needles).then(
            (body) => {
              st.body = body;
              if (!res.destroyed) this.#dispatch(st, req, res, snap, intent, match, query, connectionTokens);
            },
            (err: unknown) => this.#fail(st, res, err),
          );
          return;
        }
      }
      this.#dispatch(st, req, res, snap, intent, match, query, connectionTokens);
    } catch (err) {
      this.#fail(st, res, err);
    }
  }

  /** 2 resolve, then 3 inject and 4 forward (or passthrough, or delegate). */
  #dispatch(
    st: RequestState,
    req: IncomingMessage,
    res: ServerResponse,
    snap: Snapshot,
    intent: Intent,
    match: Exclude<MatchResult, { kind: 'deny' }>,
    query: string,
    connectionTokens: Set<string> | null,
  ): void {
    try {
      if (match.kind === 'passthrough') {
        this.#passthrough(st, req, res, (intent as { target: Target }).target, connectionTokens);
        return;
      }
      const upstreamPath = match.upstreamPath + query;
      const r = match.route;
      const agent = st.caller?.agent ?? null;

      // 2 resolve: cache hit stays synchronous; a miss awaits one (coalesced) vault call.
      if (r.credential === null) {
        this.#inject(st, req, res, r, upstreamPath, connectionTokens, null);
        return;
      }
      // `{agent}` paths are expanded per agent (the cache is scoped per agent too, I14).
      const path = (agent !== null ? agent.credentialPaths.get(r.name) : snap.credentialPaths.get(r.name)) ?? r.credential;
      if (r.mode === 'delegate') {
        void this.#delegate(st, req, res, r, path, upstreamPath, connectionTokens);
      } else {
        const rq = { path, inject: r.inject, ttlMs: r.cacheTtlMs, scope: agent?.name ?? '' };
        const hit = this.#d.resolver.lookup(rq);
        if (hit !== null) {
          st.cache = 'hit';
          this.#inject(st, req, res, r, upstreamPath, connectionTokens, hit.header);
        } else {
          const t0 = performance.now();
          this.#d.resolver.resolve(this.#d.vault(agent), rq).then(
            (resolution) => {
              st.vaultMs = performance.now() - t0;
              st.cache = resolution.event;
              if (res.destroyed) return;
              this.#inject(st, req, res, r, upstreamPath, connectionTokens, resolution.header);
            },
            (err: unknown) => {
              st.vaultMs = performance.now() - t0;
              this.#d.metrics.injections.inc([r.name, 'failed']);
              this.#fail(st, res, err);
            },
          );
        }
      }
    } catch (err) {
      this.#fail(st, res, err);
    }
  }

  /** Refuse a request an adapter could not turn into an intent (bad target, mismatch, 407). */
  reject(req: IncomingMessage, res: ServerResponse, form: RequestForm, err: unknown, host?: string, caller?: Caller): void {
    const st = new RequestState(req, form);
    st.host = host ?? null;
    st.caller = caller ?? null;
    res.once('close', () => recordRequest(this.#d, st, res));
    this.#fail(st, res, err);
  }

  // 3 inject + 4 forward
  #inject(
    st: RequestState,
    req: IncomingMessage,
    res: ServerResponse,
    r: Route,
    upstreamPath: string,
    connectionTokens: Set<string> | null,
    header: ResolvedHeader | null,
  ): void {
    const out = buildUpstreamHeaders(req.headers, connectionTokens, {
      authority: authorityOf(r),
      credentialRoute: r.credential !== null,
      keepCookies: r.keepCookies,
      injected: header,
      contentLength: req.headers['content-length'],
    });
    if (header !== null) {
      this.#d.metrics.injections.inc([r.name, out.replacedAgentHeader ? 'replaced_agent_header' : 'injected']);
    }
    st.outcome = 'forwarded';
    this.#forward(st, req, res, r.upstream.origin, upstreamPath, out.list, this.#d.upstreams.forRoute(r), r.timeouts);
  }

  #passthrough(st: RequestState, req: IncomingMessage, res: ServerResponse, t: Target, conn: Set<string> | null): void {
    if (t.scheme !== 'http') throw new SidecarError('BAD_TARGET', { message: 'https:// targets must use CONNECT.' });
    const authority = t.port === 80 ? t.host : `${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}`;
    const out = buildUpstreamHeaders(req.headers, conn, {
      authority,
      credentialRoute: false,
      keepCookies: true,
      injected: null,
      contentLength: req.headers['content-length'],
    });
    st.outcome = 'passthrough';
    const origin = `http://${authority}`;
    this.#forward(st, req, res, origin, t.path + t.query, out.list, this.#d.upstreams.passthrough(), {
      headersMs: 60_000,
      idleMs: 300_000,
    });
  }

  #forward(
    st: RequestState,
    req: IncomingMessage,
    res: ServerResponse,
    origin: string,
    path: string,
    headers: string[],
    dispatcher: ReturnType<Upstreams['forRoute']>,
    timeouts: { headersMs: number; idleMs: number },
  ): void {
    st.upstreamStart = performance.now();
    st.cancel = (this.#upgrades.get(res) ?? forward)(
      {
        dispatcher,
        origin,
        path,
        method: req.method ?? 'GET',
        headers,
        body: hasRequestBody(req.headers) ? (st.body ?? req) : null,
        contentLength: req.headers['content-length'],
        headersTimeoutMs: timeouts.headersMs,
        idleTimeoutMs: timeouts.idleMs,
        // Issue 18: a failure on a reused connection may be sent again (proxy/retry).
        retry: { bufferBytes: st.retryBufferBytes, nonIdempotent: st.route?.retryNonIdempotent ?? false, fresh: this.#d.upstreams },
      },
      res,
      {
        onUpstreamHeaders: (status) => {
          st.upstreamMs = performance.now() - st.upstreamStart;
          st.status = status;
        },
        onBytesOut: (n) => {
          st.bytesOut += n;
        },
        onRetry: (reason) => {
          st.retried = reason;
        },
        onDone: (err) => {
          st.cancel = null;
          if (err !== null) this.#fail(st, res, err);
        },
      },
    );
  }

  /** 4 (delegate): the vault makes the call; its answer is relayed to the agent. */
  async #delegate(
    st: RequestState,
    req: IncomingMessage,
    res: ServerResponse,
    r: Route,
    credential: string,
    upstreamPath: string,
    conn: Set<string> | null,
  ): Promise<void> {
    try {
      if (this.#upgrades.has(res)) throw new SidecarError('BAD_REQUEST', { message: 'WebSocket upgrades are not supported on delegate routes.' });
      // Inject routes are bounded by single-flight; each delegate request is its own vault
      // call, so cap how many may wait at once and fail fast beyond that.
      if (this.#delegatesInFlight >= this.#d.snapshot().config.limits.maxDelegatesInFlight) throw new SidecarError('VAULT_BUSY');
      this.#delegatesInFlight += 1;
      st.release = chain(st.release, () => {
        this.#delegatesInFlight -= 1;
      });
      const t0 = performance.now();
      const sent = await delegateRequest(req, res, {
        route: r,
        credential,
        upstreamPath,
        connectionTokens: conn,
        body: st.body,
        vault: this.#d.vault(st.caller?.agent ?? null),
        authority: authorityOf(r),
      });
      st.vaultMs = performance.now() - t0;
      if (sent === null) return;
      st.status = sent.status;
      st.outcome = 'delegated';
      st.bytesOut = sent.bytes;
    } catch (err) {
      this.#fail(st, res, err);
    }
  }

  /** Answer with the catalogued error, or cut the stream when the answer has begun. */
  #fail(st: RequestState, res: ServerResponse, err: unknown): void {
    const e = toSidecarError(err);
    st.code = e.code;
    st.outcome = outcomeOf(e);
    if (e.code === 'INTERNAL') this.#d.log.error({ err: e.cause, id: st.id }, 'internal error');
    else if (e.cause !== undefined) this.#d.log.debug({ id: st.id, code: e.code, cause: describe(e.cause) }, 'request failed');
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    const reply = toReply(e, st.route?.name ?? null);
    st.status = reply.status;
    // A malformed request may leave the connection's byte stream out of step, and a body we
    // never read may still be arriving: close rather than parse what follows as a new request.
    if (FRAMING_CODES.has(e.code) || (hasRequestBody(st.req.headers) && !st.req.complete)) reply.headers.connection = 'close';
    res.writeHead(reply.status, reply.headers);
    res.end(reply.body);
  }
}

/** Run `a` then `b` once each; the record stage calls `release` exactly once. */
function chain(a: (() => void) | null, b: () => void): () => void {
  return a === null ? b : () => {
    a();
    b();
  };
}

/** Refusals after which the connection's byte stream cannot be trusted to be in step. */
const FRAMING_CODES = new Set<ErrorCode>(['BAD_REQUEST', 'DUPLICATE_HEADER', 'FORBIDDEN_HEADER', 'HEADERS_TOO_LARGE']);

function authorityOf(r: Route): string {
  const u = r.upstream;
  const host = u.host.includes(':') ? `[${u.host}]` : u.host;
  const dflt = u.scheme === 'https' ? 443 : 80;
  return u.port === dflt ? host : `${host}:${u.port}`;
}

function describe(cause: unknown): string {
  if (cause instanceof Error) return `${cause.name}: ${(cause as { code?: string }).code ?? ''} ${cause.message}`.slice(0, 300);
  return String(cause).slice(0, 300);
}

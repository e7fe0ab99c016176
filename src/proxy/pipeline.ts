/**
 * The one data path (DESIGN "One data path"). Every request form ends here:
 *
 *   1 match    parsed request → route | passthrough | deny        (routing/decide)
 *     gate     gateway mode: tripwires, rate limits               (gateway/gate)
 *   2 resolve  route → the vault's header (cache, single-flight)  (credentials/resolver)
 *   3 inject   strip, then add exactly one header                 (proxy/headers)
 *   4 forward  undici, streamed both ways — or delegate to the vault
 *   5 record   one canonical log line + metrics, when the response closes (proxy/record)
 *
 * Adapters (proxy/adapters.ts) parse the request and call `handle`; they never talk to
 * the vault or undici themselves. Each stage takes `(state, res)`: what it needs was put
 * in the RequestState by the stage before. Any failure goes through `toReply()`;
 * nothing is sent upstream without its credential.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SidecarError, toReply, toSidecarError, type ErrorCode } from '../errors.js';
import type { CredentialResolver, CredentialSource } from '../credentials/resolver.js';
import type { AgentEntry } from '../gateway/agents.js';
import type { Caller } from '../gateway/auth.js';
import { admit, admitBody } from '../gateway/gate.js';
import type { Limiter } from '../gateway/limits.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics/metrics.js';
import { decide } from '../routing/decide.js';
import { hostForUrl } from '../routing/host.js';
import { requestedPath, type OriginRequest, type TargetRequest } from '../routing/request.js';
import type { Route } from '../routing/route.js';
import type { RequestForm } from '../routing/types.js';
import { type DelegateSource, delegateRequest } from './delegate.js';
import { forward, type ForwardObserver, type ForwardStage, type RetryPlan } from './forward.js';
import type { Upstreams } from './upstreams.js';
import type { RetryReason } from './retry.js';
import { buildUpstreamHeaders, hasRequestBody, inspectRequestHeaders } from './headers.js';
import { outcomeOf, trackRequest } from './record.js';
import { RequestState } from './request-state.js';
import type { Snapshot } from './snapshot.js';
import { dropsSetCookie, requestPolicyFor } from './header-policy.js';
import { createGuard, type ResponseGuard } from './response-guard.js';
import { watchBodyIdle } from './body-idle.js';

/** What an adapter hands the pipeline. */
export interface Intent {
  readonly request: TargetRequest | OriginRequest;
  /** Gateway mode: the identified agent. */
  readonly caller: Caller | null;
  /** The forward stage when not `forward`: a WebSocket upgrade's (proxy/tunnel/websocket.ts). */
  readonly forward?: ForwardStage | undefined;
}

/** A request refused before it became an intent (bad target, 407, draining). */
export interface Refused {
  readonly form: RequestForm;
  readonly host: string | null;
  readonly caller: Caller | null;
  readonly forward?: ForwardStage | undefined;
}

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

  constructor(deps: PipelineDeps) {
    this.#d = deps;
  }

  /** Run a request through the stages. Never throws; every failure becomes a catalogued reply. */
  handle(req: IncomingMessage, res: ServerResponse, intent: Intent): void {
    const st = new RequestState(req, intent.request.form, intent.caller, intent.forward ?? null);
    trackRequest(this.#d, st, res);
    try {
      const snap = (st.snap = this.#d.snapshot());
      // A body that stops arriving ends the request, whatever stage it is in (limits.body_idle_timeout).
      const bodyIdleMs = snap.config.limits.bodyIdleTimeoutMs;
      if (bodyIdleMs > 0 && hasRequestBody(req.headers) && !req.complete) {
        res.once('close', watchBodyIdle(req, bodyIdleMs, () => this.#bodyStalled(st, res)));
      }

      // 1 match: the one routing decision, on this snapshot (I13).
      const d = decide(snap, { method: st.method, request: intent.request, hostHeader: req.headers.host, agent: st.caller?.agent ?? null });
      st.form = d.form;
      st.host = d.host;
      st.route = d.kind === 'passthrough' ? null : d.route;
      // Bad framing or protected names are refused before any vault call (I2).
      st.connectionTokens = inspectRequestHeaders(req.rawHeaders, req.headers, st.route?.inject.headerName);
      if (d.kind === 'deny') throw new SidecarError(d.code, d.message === undefined ? {} : { message: d.message });
      st.decision = d;

      // gate (gateway mode, or a rate-limited route): tripwires, limits; a body is searched before resolve.
      if (st.caller !== null || st.route?.rateLimit !== undefined) {
        const { path, query } = requestedPath(intent.request);
        const needles = admit(this.#d, snap.gateway, st, req, path, query);
        if (needles !== null && hasRequestBody(req.headers)) {
          const idleMs = st.route?.timeouts.idleMs ?? snap.config.timeouts.passthrough.idleMs;
          admitBody(this.#d, st, req, needles, idleMs).then(
            (body) => {
              st.body = body;
              if (!res.destroyed) this.#resolve(st, res);
            },
            (err: unknown) => this.#fail(st, res, err),
          );
          return;
        }
      }
      this.#resolve(st, res);
    } catch (err) {
      this.#fail(st, res, err);
    }
  }

  /** Refuse a request an adapter could not turn into an intent (bad target, mismatch, 407). */
  reject(req: IncomingMessage, res: ServerResponse, r: Refused, err: unknown): void {
    const st = new RequestState(req, r.form, r.caller, r.forward ?? null);
    st.host = r.host;
    trackRequest(this.#d, st, res);
    this.#fail(st, res, err);
  }

  /** 2 resolve: cache hit stays synchronous; a miss awaits one (coalesced) vault call. Then inject, passthrough or delegate. */
  #resolve(st: RequestState, res: ServerResponse): void {
    try {
      const d = st.decision!;
      if (d.kind === 'passthrough') {
        this.#passthrough(st, res);
        return;
      }
      const r = d.route;
      if (r.credential === null) {
        this.#inject(st, res);
        return;
      }
      // `{agent}` paths are expanded per agent (the cache is scoped per agent too, I14).
      const agent = st.caller?.agent ?? null;
      st.credentialPath = (agent !== null ? agent.credentialPaths.get(r.name) : st.snap!.credentialPaths.get(r.name)) ?? r.credential;
      if (r.mode === 'delegate') {
        void this.#delegate(st, res);
        return;
      }
      const rq = { path: st.credentialPath, inject: r.inject, ttlMs: r.cacheTtlMs, scope: agent?.name ?? '' };
      const hit = this.#d.resolver.lookup(rq);
      if (hit !== null) {
        st.cache = 'hit';
        st.header = hit.header;
        this.#inject(st, res);
        return;
      }
      const t0 = performance.now();
      this.#d.resolver.resolve(this.#d.vault(agent), rq).then(
        (resolution) => {
          st.vaultMs = performance.now() - t0;
          st.cache = resolution.event;
          st.header = resolution.header;
          if (!res.destroyed) this.#inject(st, res);
        },
        (err: unknown) => {
          st.vaultMs = performance.now() - t0;
          this.#d.metrics.injections.inc([r.name, 'failed']);
          this.#fail(st, res, err);
        },
      );
    } catch (err) {
      this.#fail(st, res, err);
    }
  }

  /** 3 inject: strip the agent's headers, add the vault's one, aim at the route's upstream (I3, I6). */
  #inject(st: RequestState, res: ServerResponse): void {
    const d = st.decision as Extract<RequestState['decision'], { kind: 'route' }>;
    const r = d.route;
    const out = buildUpstreamHeaders(st.req.headers, st.connectionTokens, {
      authority: r.upstream.authority,
      credentialRoute: r.credential !== null,
      keepCookies: r.keepCookies,
      injected: st.header,
      contentLength: st.req.headers['content-length'],
      policy: requestPolicyFor(r),
    });
    if (st.header !== null) this.#d.metrics.injections.inc([r.name, out.replacedAgentHeader ? 'replaced_agent_header' : 'injected']);
    st.outcome = 'forwarded';
    // The answer is searched for the header just injected (response guard), unless the route turned it off.
    const guard: ResponseGuard | null =
      st.header === null
        ? null
        : createGuard(this.#d, st.header.value, r.responseGuard, {
            id: st.id,
            route: r.name,
            agent: st.caller?.agent.name ?? '',
            onAction: (a) => {
              st.guard = a;
            },
          });
    st.outbound = {
      dispatcher: this.#d.upstreams.forRoute(r),
      origin: r.upstream.origin,
      path: d.upstreamPath,
      headers: out.list,
      timeouts: r.timeouts,
      answer: { guard, dropSetCookie: dropsSetCookie(r) },
    };
    st.viaProxy = this.#d.upstreams.viaProxy(r.upstream.scheme, r.upstream.host, r.upstream.port); // upstream proxy (log, metrics)
    this.#forward(st, res);
  }

  /** 3 (passthrough): an allowed host over plain http, no credential, address-gated dial (I4, I8). */
  #passthrough(st: RequestState, res: ServerResponse): void {
    const d = st.decision as Extract<RequestState['decision'], { kind: 'passthrough' }>;
    const authority = d.port === 80 ? hostForUrl(d.host) : `${hostForUrl(d.host)}:${d.port}`;
    const out = buildUpstreamHeaders(st.req.headers, st.connectionTokens, {
      authority,
      credentialRoute: false,
      keepCookies: true,
      injected: null,
      contentLength: st.req.headers['content-length'],
      policy: requestPolicyFor(null),
    });
    st.outcome = 'passthrough';
    const t = st.snap!.config.timeouts.passthrough;
    st.outbound = { dispatcher: this.#d.upstreams.passthrough(t.connectMs), origin: `http://${authority}`, path: d.path, headers: out.list, timeouts: t, answer: NO_ANSWER_POLICY };
    st.viaProxy = this.#d.upstreams.viaProxy('http', d.host, d.port); // upstream proxy (log, metrics)
    this.#forward(st, res);
  }

  /** 4 forward: stream both ways; the upgrade path brings its own stage. */
  #forward(st: RequestState, res: ServerResponse): void {
    const o = st.outbound!;
    const snap = st.snap!;
    st.upstreamStart = performance.now();
    st.cancel = (st.forwardStage ?? forward)(
      {
        dispatcher: o.dispatcher,
        origin: o.origin,
        path: o.path,
        method: st.method,
        headers: o.headers,
        body: hasRequestBody(st.req.headers) ? (st.body ?? st.req) : null,
        contentLength: st.req.headers['content-length'],
        headersTimeoutMs: o.timeouts.headersMs,
        idleTimeoutMs: o.timeouts.idleMs,
        guard: o.answer.guard,
        dropSetCookie: o.answer.dropSetCookie,
        // Issue 18: a failure on a reused connection may be sent again (proxy/retry).
        retry: this.#retryPlan(snap, st.route?.retryNonIdempotent ?? false),
      },
      res,
      new ForwardWatch(st, res, this.#failed),
    );
  }

  /** `#fail` for ForwardWatch, bound once rather than per request. */
  readonly #failed = (st: RequestState, res: ServerResponse, err: unknown): void => this.#fail(st, res, err);

  /** The retry plans of the current snapshot (they depend on it and on one route flag), built once per snapshot. */
  #retryPlans: { readonly snap: Snapshot; readonly plain: RetryPlan; readonly nonIdempotent: RetryPlan } | null = null;

  #retryPlan(snap: Snapshot, nonIdempotent: boolean): RetryPlan {
    let p = this.#retryPlans;
    if (p === null || p.snap !== snap) {
      const bufferBytes = snap.config.limits.retryBufferBytes;
      const fresh = this.#d.upstreams;
      p = this.#retryPlans = {
        snap,
        plain: Object.freeze({ bufferBytes, nonIdempotent: false, fresh }),
        nonIdempotent: Object.freeze({ bufferBytes, nonIdempotent: true, fresh }),
      };
    }
    return nonIdempotent ? p.nonIdempotent : p.plain;
  }

  /** 4 (delegate): the vault makes the call; its answer is relayed to the agent. */
  async #delegate(st: RequestState, res: ServerResponse): Promise<void> {
    try {
      if (st.forwardStage !== null) throw new SidecarError('BAD_REQUEST', { message: 'WebSocket upgrades are not supported on delegate routes.' });
      // Inject routes are bounded by single-flight; each delegate request is its own vault
      // call, so cap how many may wait at once and fail fast beyond that.
      if (this.#delegatesInFlight >= st.snap!.config.limits.maxDelegatesInFlight) throw new SidecarError('VAULT_BUSY');
      this.#delegatesInFlight += 1;
      st.onRelease(() => {
        this.#delegatesInFlight -= 1;
      });
      const r = st.route!;
      const t0 = performance.now();
      const sent = await delegateRequest(st.req, res, {
        route: r,
        credential: st.credentialPath!,
        upstreamPath: (st.decision as Extract<RequestState['decision'], { kind: 'route' }>).upstreamPath,
        connectionTokens: st.connectionTokens,
        body: st.body,
        vault: this.#d.vault(st.caller?.agent ?? null),
        authority: r.upstream.authority,
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

  /** The agent's body went silent: abort the upstream request, answer 408 (or cut), then close. */
  #bodyStalled(st: RequestState, res: ServerResponse): void {
    this.#fail(st, res, new SidecarError('REQUEST_TIMEOUT', { message: 'The request body stopped arriving (limits.body_idle_timeout).' }));
    st.cancel?.();
    // The rest of the body will never come: close once the answer is out.
    res.once('finish', () => st.req.socket?.destroySoon());
  }

  /** Answer with the catalogued error, or cut the stream when the answer has begun. */
  #fail(st: RequestState, res: ServerResponse, err: unknown): void {
    // Once an answer is out or cut, the first failure is the one on record (later ones are its echoes).
    if (st.code !== null && (res.headersSent || res.destroyed)) {
      if (!res.writableEnded) res.destroy();
      return;
    }
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

/**
 * What the forward stage reports, written into the request's state: one object with
 * methods per request rather than four closures.
 */
class ForwardWatch implements ForwardObserver {
  constructor(
    private readonly st: RequestState,
    private readonly res: ServerResponse,
    private readonly fail: (st: RequestState, res: ServerResponse, err: unknown) => void,
  ) {}

  onUpstreamHeaders(status: number): void {
    this.st.upstreamMs = performance.now() - this.st.upstreamStart;
    this.st.status = status;
  }

  onBytesOut(n: number): void {
    this.st.bytesOut += n;
  }

  onRetry(reason: RetryReason): void {
    this.st.retried = reason;
  }

  onDone(err: SidecarError | null): void {
    this.st.cancel = null;
    if (err !== null) this.fail(this.st, this.res, err);
  }
}

/** Refusals after which the connection's byte stream cannot be trusted to be in step. */
const FRAMING_CODES = new Set<ErrorCode>(['BAD_REQUEST', 'DUPLICATE_HEADER', 'FORBIDDEN_HEADER', 'HEADERS_TOO_LARGE']);

function describe(cause: unknown): string {
  if (cause instanceof Error) return `${cause.name}: ${(cause as { code?: string }).code ?? ''} ${cause.message}`.slice(0, 300);
  return String(cause).slice(0, 300);
}

/** Passthrough answers carry no injected credential: nothing to guard, cookies pass. */
const NO_ANSWER_POLICY = Object.freeze({ guard: null, dropSetCookie: false });

/**
 * Forwarding: one request upstream over undici's `dispatch`, the answer relayed to the
 * agent (STYLE 12, 14). The dispatchers come from proxy/upstreams.ts.
 *
 * A small handler streams both ways with backpressure: no buffering, redirects never
 * followed (I5), a client abort cancels the upstream request and an upstream abort ends
 * the client's response.
 *
 * Connection reuse (issue 18): a request that fails on a reused connection before any
 * answer byte can be sent once more on a fresh one-off connection when proxy/retry
 * allows it; small bodies are held for that until the answer starts (proxy/held-body).
 *
 * On credential routes the answer passes through the response guard on its way
 * (response-guard.ts): headers before they are written, each body chunk before it is.
 */
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher } from '../undici-core.js';
import { SidecarError } from '../errors.js';
import { filterResponseHeaders } from './headers.js';
import type { ConnectionRecord } from './connections.js';
import type { FreshConnections } from './upstreams.js';
import { HeldBody } from './held-body.js';
import type { ResponseGuard } from './response-guard.js';
import { decideRetry, noRetryMessage, type RetryReason } from './retry.js';

/** How long a failed attempt waits for the rest of the agent's upload (to retry it, or to answer): while it keeps coming, up to a cap. */
const LINGER_IDLE_MS = 250;
const LINGER_MAX_MS = 5_000;

/** What the pipeline learns from a forward, for the canonical line and metrics. */
export interface ForwardObserver {
  /** Upstream answered with headers; `status` went to the agent. */
  onUpstreamHeaders(status: number): void;
  onBytesOut(n: number): void;
  /** The request is being sent again on a fresh connection (at most once). */
  onRetry?(reason: RetryReason): void;
  /** The exchange ended: `err` null on a clean end. Called exactly once. */
  onDone(err: SidecarError | null): void;
}

/** How a forward may be retried (issue 18); absent for upgrades. */
export interface RetryPlan {
  /** Bodies up to this many bytes are held for a retry (0: bodiless requests only). */
  readonly bufferBytes: number;
  /** The route's `retry.non_idempotent`. */
  readonly nonIdempotent: boolean;
  readonly fresh: FreshConnections;
}

export interface ForwardRequest {
  readonly dispatcher: Dispatcher;
  readonly origin: string;
  readonly path: string;
  readonly method: string;
  readonly headers: string[];
  /** The agent's request (or, after a tripwire search, its head replayed in front of the rest). */
  readonly body: Readable | null;
  /** The agent's Content-Length, when it sent one. */
  readonly contentLength?: string | undefined;
  readonly headersTimeoutMs: number;
  readonly idleTimeoutMs: number;
  /** Searches the answer for the injected credential (response-guard.ts); absent or null: not searched. */
  readonly guard?: ResponseGuard | null;
  /** Drop Set-Cookie from the answer (credential routes without keep_cookies, header-policy.ts). */
  readonly dropSetCookie?: boolean;
  readonly retry?: RetryPlan | null;
}

/** Map an undici/TLS/socket error to the catalogue; `message` overrides the agent-facing text of UPSTREAM_ERROR. */
export function upstreamError(err: unknown, message?: string): SidecarError {
  if (err instanceof SidecarError) return err;
  const code = (err as { code?: string } | null)?.code ?? '';
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
    case 'ETIMEDOUT':
      return new SidecarError('UPSTREAM_TIMEOUT', { cause: err });
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new SidecarError('UPSTREAM_UNREACHABLE', { cause: err });
    default:
      if (/CERT|SELF_SIGNED|TLS|SSL|UNABLE_TO_VERIFY|ALTNAME/i.test(code)) {
        return new SidecarError('UPSTREAM_TLS', { cause: err });
      }
      return new SidecarError('UPSTREAM_ERROR', message === undefined ? { cause: err } : { cause: err, message });
  }
}

/**
 * A legacy-style undici handler (the dispatcher's native interface, so no per-request
 * wrapper objects) that relays the upstream answer to `res` with backpressure. It is
 * connection-aware (proxy/connections), and on a failure it may dispatch itself once
 * more on a fresh connection (proxy/retry).
 */
class RelayHandler {
  #abort: ((err?: Error) => void) | null = null;
  #finished = false;
  readonly #req: ForwardRequest;
  readonly #res: ServerResponse;
  readonly #obs: ForwardObserver;
  /** The body undici reads: the agent's, or a HeldBody around it when a retry may need it again. */
  readonly #body: Readable | null;
  readonly #guard: ResponseGuard | null;
  readonly #dropSetCookie: boolean;
  #resume: (() => void) | null = null;
  readonly #onDrain = (): void => {
    const r = this.#resume;
    this.#resume = null;
    r?.();
  };
  // Per attempt: what proxy/retry needs to know about the connection.
  #conn: ConnectionRecord | null = null;
  #socketReadAtStart = 0;
  #reused = false;
  #closedBeforeWrite = false;
  #answerStarted = false;
  #retried = false;

  constructor(req: ForwardRequest, res: ServerResponse, obs: ForwardObserver) {
    this.#req = req;
    this.#res = res;
    this.#obs = obs;
    // The guard sees only the answer of the attempt that succeeds: a retry happens before
    // any answer byte, so nothing has reached the guard by then.
    this.#guard = req.guard ?? null;
    this.#dropSetCookie = req.dropSetCookie ?? false;
    const plan = req.retry;
    // Every body goes through a HeldBody (small ones are kept for a retry) so that a failed
    // attempt never destroys the agent's request under the 502 it is about to read.
    this.#body =
      req.body !== null && plan != null
        ? new HeldBody(req.body, plan.bufferBytes, req.contentLength === undefined ? undefined : Number(req.contentLength))
        : req.body;
  }

  /** Send the request on `dispatcher` (first attempt) or on a fresh connection (the retry). */
  dispatch(fresh: FreshConnections | null): void {
    const req = this.#req;
    const opts: Dispatcher.DispatchOptions = {
      origin: req.origin,
      path: req.path,
      method: req.method as Dispatcher.HttpMethod,
      headers: req.headers,
      body: fresh === null ? this.#body : this.#body instanceof HeldBody ? this.#body.replay() : null,
      headersTimeout: req.headersTimeoutMs,
      bodyTimeout: req.idleTimeoutMs,
      // Pipelining hint only (undici never re-sends a request by itself); proxy/retry decides about retries.
      idempotent: req.method === 'GET' || req.method === 'HEAD',
    };
    const handler = this as unknown as Dispatcher.DispatchHandler;
    if (fresh === null) req.dispatcher.dispatch(opts, handler);
    else fresh.dispatchFresh(req.dispatcher, req.origin, opts, handler);
  }

  /** The agent went away: cancel the upstream request (and any retry still to come). */
  cancel(): void {
    if (this.#finished) return;
    this.#cancelled = true;
    this.#abort?.(new SidecarError('UPSTREAM_ERROR', { message: 'client aborted' }));
  }
  #cancelled = false;

  /** proxy/connections: the pool slot this attempt was queued on. */
  onConnection(record: ConnectionRecord): void {
    this.#conn = record;
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort;
    if (this.#cancelled) {
      abort(new SidecarError('UPSTREAM_ERROR', { message: 'client aborted' }));
      return;
    }
    // Called just before undici writes this request on the slot's current socket.
    const socket = this.#conn?.socket ?? null;
    if (socket !== null) {
      this.#reused = this.#conn!.requests++ > 0;
      this.#socketReadAtStart = socket.bytesRead;
      this.#closedBeforeWrite = socket.readableEnded;
    }
  }

  onHeaders(status: number, rawHeaders: Buffer[], resume: () => void): boolean {
    this.#answerStarted = true;
    // 1xx informational answers are not relayed; the final answer follows.
    if (status < 200) return true;
    if (this.#body instanceof HeldBody) this.#body.release();
    const res = this.#res;
    const headers = filterResponseHeaders(rawHeaders, this.#dropSetCookie);
    this.#obs.onUpstreamHeaders(status);
    // The guard masks reflected credentials in place, or withholds the answer (502, nothing written).
    if (this.#guard !== null && !this.#guard.headers(headers)) {
      this.#blocked();
      return false;
    }
    res.writeHead(status, headers);
    this.#resumeFn = resume;
    return true;
  }
  #resumeFn: (() => void) | null = null;

  onData(chunk: Buffer): boolean {
    const g = this.#guard;
    if (g === null) return this.#write(chunk);
    if (!g.inflating) {
      const out = g.body(chunk);
      if (out === null) {
        this.#blocked();
        return false;
      }
      return out.length === 0 || this.#write(out);
    }
    // Compressed: the upstream stays paused until the inflated copy of this chunk is searched.
    let sync = true;
    let flowing = false;
    g.bodyAsync(chunk, (out) => {
      if (this.#finished) return;
      if (out === null) return this.#blocked();
      const ok = out.length === 0 || this.#write(out);
      // A verdict given at once is this call's answer; a later one resumes the paused upstream.
      if (sync) flowing = ok;
      else if (ok) this.#resumeFn?.();
    });
    sync = false;
    return flowing;
  }

  /** Write to the agent; false (after arranging a resume on drain) under backpressure. */
  #write(chunk: Buffer): boolean {
    this.#obs.onBytesOut(chunk.length);
    if (this.#res.write(chunk)) return true;
    // Backpressure: pause the upstream until the agent drains.
    this.#resume = this.#resumeFn;
    this.#res.once('drain', this.#onDrain);
    return false;
  }

  /** The guard withheld the answer: end the exchange, never writing the secret's bytes. */
  #blocked(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#guard?.close();
    const err = new SidecarError('RESPONSE_BLOCKED');
    this.#abort?.(err);
    this.#obs.onDone(err);
  }

  onComplete(): void {
    if (this.#finished) return;
    const g = this.#guard;
    // A compressed body may still have chunks waiting for their verdict: end after them.
    if (g?.inflating === true) g.endAsync((rest) => this.#complete(rest));
    else this.#complete(g?.end() ?? null);
  }

  #complete(rest: Buffer | null): void {
    if (this.#finished) return;
    this.#finished = true;
    if (rest !== null && rest.length > 0) {
      this.#obs.onBytesOut(rest.length);
      this.#res.end(rest);
    } else {
      this.#res.end();
    }
    this.#obs.onDone(null);
  }

  onError(err: Error): void {
    if (this.#finished) return;
    const plan = this.#req.retry;
    if (plan == null || this.#cancelled || err instanceof SidecarError) return this.#fail(err);
    const socket = this.#conn?.socket ?? null;
    const held = this.#body instanceof HeldBody ? this.#body : null;
    const decision = decideRetry({
      method: this.#req.method,
      headers: this.#req.headers,
      error: err,
      reused: this.#reused,
      closedBeforeWrite: this.#closedBeforeWrite,
      // Any byte of the answer, even a partial status line the parser never completed.
      answerStarted: this.#answerStarted || (socket !== null && socket.bytesRead > this.#socketReadAtStart),
      alreadyRetried: this.#retried,
      body: this.#body === null ? 'none' : held === null ? 'gone' : held.hold,
      routeOptIn: plan.nonIdempotent,
    });
    if (!decision.retry) return this.#fail(err, noRetryMessage(decision.why, this.#req.method));
    const reason = decision.reason;
    if (held === null || held.hold === 'held') return this.#retry(plan, reason);
    // A small body still arriving: send it again once it is whole (while it keeps coming).
    void held.whenEnded(LINGER_IDLE_MS, LINGER_MAX_MS).then(() => {
      if (this.#finished) return;
      if (this.#cancelled) this.#fail(new SidecarError('UPSTREAM_ERROR', { message: 'client aborted' }));
      else if (held.hold === 'held') this.#retry(plan, reason);
      else this.#fail(err, noRetryMessage('body_not_held', this.#req.method));
    });
  }

  #retry(plan: RetryPlan, reason: RetryReason): void {
    this.#retried = true;
    this.#abort = null;
    this.#conn = null;
    this.#reused = false;
    this.#closedBeforeWrite = false;
    this.#obs.onRetry?.(reason);
    this.dispatch(plan.fresh);
  }

  #fail(err: Error, message?: string): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#guard?.close();
    const e = upstreamError(err, message);
    if (!(this.#body instanceof HeldBody)) return this.#obs.onDone(e);
    this.#body.release();
    // An upload cut off upstream: let the agent finish sending (bounded) so it reads the error.
    void this.#body.whenEnded(LINGER_IDLE_MS, LINGER_MAX_MS).then(() => this.#obs.onDone(e));
  }

  onUpgrade(): void {
    // Upgrades are dispatched by the WebSocket path, never through this handler.
  }

  onBodySent(): void {}
}

/** The forward stage's contract: dispatch, relay to `res`, report to `obs`; returns a canceller. */
export type ForwardStage = (req: ForwardRequest, res: ServerResponse, obs: ForwardObserver) => () => void;

/** Dispatch one request upstream. Returns a canceller for when the agent goes away. */
export function forward(req: ForwardRequest, res: ServerResponse, obs: ForwardObserver): () => void {
  const handler = new RelayHandler(req, res, obs);
  handler.dispatch(null);
  return () => handler.cancel();
}

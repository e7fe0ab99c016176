/**
 * The state of one request as it moves through the pipeline: one object, carrying what
 * each stage decided for the next (the snapshot, the decision, the resolved header, the
 * outbound request) and what the record stage reads once at the end (proxy/record.ts).
 * Stages take `(state, res)`.
 */
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { CacheEvent, ResolvedHeader } from '../credentials/resolver.js';
import type { ErrorCode } from '../errors.js';
import type { Caller } from '../gateway/auth.js';
import type { Outcome } from '../metrics/metrics.js';
import type { Decision } from '../routing/decide.js';
import type { Route, RouteTimeouts } from '../routing/route.js';
import type { RequestForm } from '../routing/types.js';
import type { ForwardStage } from './forward.js';
import { nextRequestId } from './record.js';
import type { Snapshot } from './snapshot.js';
import type { GuardAction, ResponseGuard } from './response-guard.js';
import type { RetryReason } from './retry.js';

/** What the forward stage sends: built by inject (or passthrough), read by forward. */
export interface Outbound {
  readonly dispatcher: Dispatcher;
  readonly origin: string;
  /** Path and query, starting with one '/'. */
  readonly path: string;
  /** Lowercase name/value pairs, already stripped and injected. */
  readonly headers: string[];
  readonly timeouts: Pick<RouteTimeouts, 'headersMs' | 'idleMs'>;
  /** How the answer is treated: the response guard (credential routes) and Set-Cookie policy. */
  readonly answer: { readonly guard: ResponseGuard | null; readonly dropSetCookie: boolean };
}

export class RequestState {
  readonly id = nextRequestId();
  readonly start = performance.now();
  readonly startBytesRead: number;
  readonly method: string;
  /** Gateway mode: the identified agent. */
  readonly caller: Caller | null;
  /** The forward stage; a WebSocket upgrade brings its own (proxy/tunnel/websocket.ts). */
  readonly forwardStage: ForwardStage | null;

  // Filled by the stages, in order.
  /** The configuration this request keeps to the end (I13). */
  snap: Snapshot | null = null;
  /** 1 match: route or passthrough (a deny never gets past the match stage). */
  decision: Exclude<Decision, { kind: 'deny' }> | null = null;
  route: Route | null = null;
  host: string | null = null;
  /** Header names the agent listed in `Connection` (stripped too, I6). */
  connectionTokens: Set<string> | null = null;
  /** gate: the body to forward when the tripwire stage has read its head (replayed in front of the rest). */
  body: Readable | null = null;
  /** 2 resolve: the vault path asked for (templated per agent). */
  credentialPath: string | null = null;
  /** 2 resolve: the vault's header, null on a route without credential. */
  header: ResolvedHeader | null = null;
  /** 3 inject (or passthrough): the request to send. */
  outbound: Outbound | null = null;

  // Read by the record stage.
  code: ErrorCode | null = null;
  outcome: Outcome = 'error';
  status = 0;
  vaultMs: number | null = null;
  upstreamStart = 0;
  upstreamMs: number | null = null;
  bytesOut = 0;
  cache: CacheEvent | null = null;
  cancel: (() => void) | null = null;
  /** Sent through the upstream (corporate) proxy. */
  viaProxy = false;
  settled = false;
  /** Ends the stream count of a rate limit (and the delegate in-flight count). */
  release: (() => void) | null = null;
  /** What the response guard last did to this answer (masked, aborted, uninspectable), if anything. */
  guard: GuardAction | null = null;
  /** Why the request was sent upstream a second time, or null (issue 18). */
  retried: RetryReason | null = null;

  constructor(
    readonly req: IncomingMessage,
    public form: RequestForm,
    caller: Caller | null,
    forwardStage: ForwardStage | null,
  ) {
    this.startBytesRead = req.socket?.bytesRead ?? 0;
    this.method = req.method ?? 'GET';
    this.caller = caller;
    this.forwardStage = forwardStage;
  }

  /** Run `fn` (once) when the record stage runs, after what was registered before. */
  onRelease(fn: () => void): void {
    const prev = this.release;
    this.release = prev === null ? fn : () => {
      prev();
      fn();
    };
  }
}

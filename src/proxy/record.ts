/**
 * Stage 5, record, and the one writer of the canonical per-request log line (STYLE 7).
 *
 * Every line with `msg: "request"` is written by `writeCanonicalLine`: requests through
 * the pipeline (`recordRequest`, once, from the response's close), CONNECT tunnels
 * (proxy/tunnel/record.ts) and requests the HTTP parser refused before they had a
 * handler (proxy/listener.ts). All of them take their id from `nextRequestId`. Also the
 * mapping of catalogued errors to the bounded `outcome` label.
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { ErrorCode, SidecarError } from '../errors.js';
import { lineLogger, type Logger } from '../log.js';
import { codeClass, type Metrics, type Outcome, type UpstreamProxyResult } from '../metrics/metrics.js';

/** The fields of the canonical per-request line; names are constant and tests assert on them. */
export interface RequestRecord {
  id: string;
  form: string;
  agent: string | null;
  route: string | null;
  method: string;
  host: string | null;
  status: number;
  code: string | null;
  outcome: string;
  vault_ms: number | null;
  upstream_ms: number | null;
  total_ms: number;
  bytes_in: number;
  bytes_out: number;
  cache: string | null;
  /** Sent through the upstream (corporate) proxy. */
  via_proxy: boolean;
  /** Why the request was sent upstream a second time (on a fresh connection, issue 18), or null; null on tunnels and parser refusals. */
  retried: string | null;
  /** The response guard's action on this answer (masked, aborted, uninspectable); absent when it did nothing. */
  guard?: string;
}

/** Request ids: a per-process random prefix and a counter; unique across restarts, no UUID per request. */
const ID_PREFIX = randomBytes(4).toString('hex');
let seq = 0;

/** The one id scheme for requests, tunnels and parser refusals. */
export function nextRequestId(): string {
  return `${ID_PREFIX}-${(++seq).toString(36)}`;
}

/**
 * Emit the canonical line (5xx at warn). `extra` fields follow the constant ones. It is
 * written without pino's redaction (log.ts `lineLogger`), so every field is a scalar:
 * neither the record nor `extra` can carry an object such as a header map.
 */
export function writeCanonicalLine(log: Logger, rec: RequestRecord, extra?: Readonly<Record<string, string | number | boolean | null>>): void {
  const line = extra === undefined ? rec : { ...rec, ...extra };
  const out = lineLogger(log);
  if (rec.status >= 500) out.warn(line, 'request');
  else out.info(line, 'request');
}

/** What `recordRequest` reads from a request's state (proxy/request-state.ts). */
export interface Recorded {
  readonly id: string;
  readonly start: number;
  readonly startBytesRead: number;
  readonly req: IncomingMessage;
  readonly form: string;
  readonly caller: { readonly agent: { readonly name: string } } | null;
  readonly route: { readonly name: string } | null;
  readonly host: string | null;
  readonly code: ErrorCode | null;
  outcome: Outcome;
  readonly status: number;
  readonly vaultMs: number | null;
  readonly upstreamMs: number | null;
  readonly bytesOut: number;
  readonly cache: string | null;
  /** Why the request was sent upstream a second time, or null (issue 18). */
  readonly retried: string | null;
  /** The response guard's action on this answer, if it acted. */
  readonly guard: string | null;
  readonly cancel: (() => void) | null;
  readonly viaProxy: boolean;
  readonly release: (() => void) | null;
  settled: boolean;
}

/**
 * The canonical line of a request refused before it reached the pipeline (a parser error,
 * CONNECT inside a tunnel): nothing was matched, resolved or sent.
 */
export function refusalRecord(form: string, host: string | null, method: string, e: SidecarError): RequestRecord {
  return {
    id: nextRequestId(),
    form,
    agent: null,
    route: null,
    method,
    host,
    status: e.status,
    code: e.code,
    outcome: 'bad_request',
    vault_ms: null,
    upstream_ms: null,
    total_ms: 0,
    bytes_in: 0,
    bytes_out: 0,
    cache: null,
    via_proxy: false,
    retried: null,
  };
}

/** Count the request in flight and record it when its response closes, either way (once per RequestState). */
export function trackRequest(d: { readonly metrics: Metrics; readonly log: Logger }, st: Recorded, res: ServerResponse): void {
  d.metrics.inFlight += 1;
  // `on`, not `once` (no wrapper per request): a response closes once, and recordRequest runs once per state anyway.
  res.on('close', () => recordRequest(d, st, res));
}

/** Record one request, exactly once, when its response has closed either way. */
export function recordRequest(d: { readonly metrics: Metrics; readonly log: Logger }, st: Recorded, res: ServerResponse): void {
  if (st.settled) return;
  st.settled = true;
  d.metrics.inFlight -= 1;
  st.release?.();
  if (!res.writableFinished) {
    // The agent went away mid-exchange: cancel upstream (client abort → upstream abort).
    st.cancel?.();
    if (st.code === null) st.outcome = 'client_abort';
  }
  const totalMs = performance.now() - st.start;
  const m = d.metrics;
  const routeName = st.route?.name ?? 'none';
  const bytesIn = Math.max(0, (st.req.socket?.bytesRead ?? st.startBytesRead) - st.startBytesRead);
  const rn = [routeName];
  m.requests.inc([routeName, methodLabel(st.req.method), codeClass(st.status), st.outcome, st.caller?.agent.name ?? '']);
  m.requestDuration.observe(rn, totalMs / 1000);
  if (st.upstreamMs !== null) m.upstreamDuration.observe(rn, st.upstreamMs / 1000);
  if (st.cache !== null) m.cacheEvents.inc([routeName, st.cache]);
  if (st.retried !== null) m.upstreamRetries.inc({ route: routeName, reason: st.retried });
  if (st.outcome === 'denied' || st.outcome === 'bad_request') m.denied.inc({ reason: st.code ?? 'UNKNOWN' });
  if (st.viaProxy) m.upstreamProxyRequests.inc({ route: routeName, result: proxyResult(st.code) });
  if (bytesIn > 0) m.bytes.inc([routeName, 'in'], bytesIn);
  if (st.bytesOut > 0) m.bytes.inc([routeName, 'out'], st.bytesOut);
  // The line is built only when it will be written (a sidecar run at `warn` skips it).
  if (!d.log.isLevelEnabled(st.status >= 500 ? 'warn' : 'info')) return;
  const rec: RequestRecord = {
    id: st.id,
    form: st.form,
    agent: st.caller?.agent.name ?? null,
    route: st.route?.name ?? null,
    method: st.req.method ?? '',
    host: st.host,
    status: st.status,
    code: st.code,
    outcome: st.outcome,
    vault_ms: round(st.vaultMs),
    upstream_ms: round(st.upstreamMs),
    total_ms: round(totalMs) ?? 0,
    bytes_in: bytesIn,
    bytes_out: st.bytesOut,
    cache: st.cache,
    via_proxy: st.viaProxy,
    retried: st.retried,
  };
  if (st.guard !== null) rec.guard = st.guard;
  writeCanonicalLine(d.log, rec);
}

/** The bounded `result` of `upstream_proxy_requests_total`: ok, or which hop failed how. */
export function proxyResult(code: ErrorCode | null): UpstreamProxyResult {
  switch (code) {
    case null:
      return 'ok';
    case 'UPSTREAM_PROXY_AUTH':
      return 'proxy_auth';
    case 'UPSTREAM_PROXY_REFUSED':
      return 'proxy_refused';
    case 'UPSTREAM_PROXY_ERROR':
      return 'proxy_error';
    case 'UPSTREAM_PROXY_UNREACHABLE':
      return 'proxy_unreachable';
    case 'ADDRESS_BLOCKED':
      return 'address_blocked'; // the gate stopped it before the proxy was asked
    default:
      return code.startsWith('UPSTREAM_') ? 'upstream_error' : 'error';
  }
}

export function outcomeOf(e: SidecarError): Outcome {
  switch (e.code) {
    case 'BAD_TARGET':
    case 'HOST_MISMATCH':
    case 'DUPLICATE_HEADER':
    case 'FORBIDDEN_HEADER':
    case 'BAD_REQUEST':
    case 'BODY_TOO_LARGE':
    case 'UNSUPPORTED_MEDIA_TYPE':
      return 'bad_request';
    case 'RATE_LIMITED':
      return 'rate_limited';
    case 'UPSTREAM_TIMEOUT':
      return 'timeout';
    case 'UPSTREAM_UNREACHABLE':
    case 'UPSTREAM_TLS':
    case 'UPSTREAM_ERROR':
    case 'UPSTREAM_PROXY_AUTH':
    case 'UPSTREAM_PROXY_REFUSED':
    case 'UPSTREAM_PROXY_ERROR':
    case 'UPSTREAM_PROXY_UNREACHABLE':
      return 'upstream_error';
    case 'INTERNAL':
    case 'SHUTTING_DOWN':
      return 'error';
    default:
      return e.code.startsWith('VAULT_') || e.code === 'CREDENTIAL_NOT_FOUND' ? 'vault_error' : 'denied';
  }
}

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'CONNECT', 'TRACE']);
/** Methods are a bounded label: anything unusual is `OTHER`. */
function methodLabel(m: string | undefined): string {
  return m !== undefined && KNOWN_METHODS.has(m) ? m : 'OTHER';
}

/** Milliseconds with two decimals, for the log. */
export function round(ms: number | null): number | null {
  return ms === null ? null : Math.round(ms * 100) / 100;
}

/**
 * Stage 5, record: the one canonical log line and the request metrics, emitted once per
 * request from the response's close (STYLE 7). Also the mapping of catalogued errors to
 * the bounded `outcome` label.
 */
import type { ServerResponse } from 'node:http';
import type { SidecarError } from '../errors.js';
import { codeClass, type Metrics, type Outcome } from '../metrics/metrics.js';
import { logRequest, type Logger, type RequestRecord } from '../log.js';
import type { RequestState } from './request-state.js';

/** Record one request, exactly once, when its response has closed either way. */
export function recordRequest(d: { readonly metrics: Metrics; readonly log: Logger }, st: RequestState, res: ServerResponse): void {
  if (st.settled) return;
  st.settled = true;
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
  if (bytesIn > 0) m.bytes.inc([routeName, 'in'], bytesIn);
  if (st.bytesOut > 0) m.bytes.inc([routeName, 'out'], st.bytesOut);
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
    retried: st.retried,
  };
  logRequest(d.log, rec);
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

function round(ms: number | null): number | null {
  return ms === null ? null : Math.round(ms * 100) / 100;
}

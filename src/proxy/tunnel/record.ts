/**
 * The record of one CONNECT tunnel: its decision (intercept, plain_http, tunnel or
 * refused) and reason, emitted once as the canonical log line (`form: "connect"`,
 * `method: "CONNECT"`, plus `decision`, `reason` and `port`) and counted in the tunnel
 * metrics when the agent's socket closes, whichever way it ends. Requests carried
 * inside a tunnel get their own canonical lines from the pipeline. The line is written
 * by the one writer (proxy/record.ts), with the same id scheme as every other request.
 */
import { toSidecarError, type ErrorCode } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { Metrics } from '../../metrics/metrics.js';
import { GateRefusal } from '../../egress/address-gate.js';
import { nextRequestId, proxyResult, round, writeCanonicalLine } from '../record.js';
import { InterceptError } from './intercept.js';

export type TunnelDecision = 'intercept' | 'plain_http' | 'tunnel' | 'refused';

export class TunnelRecord {
  readonly id = nextRequestId();
  readonly #start = performance.now();
  host: string | null = null;
  port = 0;
  /** Gateway mode: the agent that opened the tunnel. */
  agent: string | null = null;
  route: string | null = null;
  decision: TunnelDecision = 'refused';
  /** A bounded label: route, allow_list, unmatched_passthrough, or why it was refused. */
  reason = 'client_closed';
  code: ErrorCode | null = null;
  status = 0;
  upstreamMs: number | null = null;
  /** The byte tunnel goes through the upstream (corporate) proxy. */
  viaProxy = false;
  /** Reads the byte counts when the tunnel ends: [from the agent, to the agent]. */
  measure: (() => readonly [number, number]) | null = null;
  /** Extra detail for the log only (a TLS alert, the refused address). */
  detail: string | null = null;
  #open = false;
  #done = false;
  /** The catalogue status of `code` (the agent may already have had a 200). */
  #codeStatus = 0;

  constructor(
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {}

  /** The tunnel is established (200 sent). */
  opened(): void {
    this.#open = true;
    this.status = 200;
    this.metrics.tunnelsActive.inc();
  }

  /** Record a refusal (or a failure after the decision): the reason comes from the error. */
  refused(err: unknown): void {
    const e = toSidecarError(err);
    this.decision = 'refused';
    this.code = e.code;
    this.#codeStatus = e.status;
    if (!this.#open) this.status = e.status;
    const cause = err instanceof InterceptError ? err : e.cause;
    if (cause instanceof GateRefusal) {
      this.reason = cause.reason;
      this.detail = cause.address;
    } else if (cause instanceof InterceptError) {
      this.reason = cause.reason;
      const tlsCode = (cause.cause as { code?: string } | undefined)?.code;
      if (tlsCode !== undefined) this.detail = tlsCode;
    } else {
      this.reason = e.code.toLowerCase();
    }
  }

  /** Emit the line and the metrics, exactly once. */
  finish(): void {
    if (this.#done) return;
    this.#done = true;
    const m = this.metrics;
    if (this.#open) m.tunnelsActive.dec();
    m.tunnels.inc({ outcome: this.decision });
    if (this.decision === 'refused' && this.code !== null) m.denied.inc({ reason: this.code });
    if (this.viaProxy) m.upstreamProxyRequests.inc({ route: this.route ?? 'none', result: proxyResult(this.code) });
    const [bytesIn, bytesOut] = this.measure?.() ?? [0, 0];
    writeCanonicalLine(
      this.log,
      {
        id: this.id,
        form: 'connect',
        agent: this.agent,
        route: this.route,
        method: 'CONNECT',
        host: this.host,
        status: this.status,
        code: this.code,
        outcome: this.#outcome(),
        vault_ms: null,
        upstream_ms: round(this.upstreamMs),
        total_ms: round(performance.now() - this.#start) ?? 0,
        bytes_in: bytesIn,
        bytes_out: bytesOut,
        cache: null,
        via_proxy: this.viaProxy,
        retried: null,
      },
      { decision: this.decision, reason: this.reason, port: this.port, ...(this.detail === null ? {} : { detail: this.detail }) },
    );
  }

  #outcome(): string {
    if (this.decision === 'tunnel') return 'passthrough';
    if (this.decision !== 'refused') return 'forwarded';
    if (this.code === null) return 'client_abort';
    if (this.#codeStatus === 400 || this.#codeStatus === 408) return 'bad_request';
    if (this.#codeStatus === 403) return 'denied';
    if (this.#codeStatus === 502 || this.#codeStatus === 504) return 'upstream_error';
    return 'error';
  }
}

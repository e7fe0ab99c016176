/**
 * CONNECT on the proxy listener (HTTPS_PROXY, and undici's proxy agents even for
 * http:// URLs): a thin adapter that decides what a tunnel may carry, then hands HTTP
 * inside it to the one pipeline or splices bytes to a checked address.
 *
 *   parse      the authority with the strict grammar (no port, port 0, IP tricks: 400)
 *   routed     a host some route covers: HTTP inside goes through the pipeline, either
 *              plain (port 80, or an HTTP request line first) or decrypted by the
 *              interceptor (TLS first, CA configured); TLS without a CA: 403
 *   allowed    an `egress.allow` host (or `unmatched: passthrough`): address gate (I8),
 *              dial the checked address, then a byte tunnel with no credentials
 *   otherwise  403 NO_ROUTE
 *
 * `200 Connection Established` is written only after the decision and, for byte
 * tunnels, after the upstream connection succeeded. Nothing is dialled for a refused
 * target. Every tunnel ends in one canonical line (tunnel/record.ts). What a CONNECT may
 * carry is the one routing decision (routing/decide); this module only carries it out.
 * Its timeouts come from the snapshot the CONNECT arrived on (`timeouts:` in routes.yaml).
 *
 * In gateway mode the agent is identified on the CONNECT itself (Proxy-Authorization,
 * or a dedicated listener; 407 otherwise), and every request inside the tunnel is
 * identified again with what the CONNECT presented (gateway/auth.ts).
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { SidecarError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { Metrics } from '../../metrics/metrics.js';
import { decide } from '../../routing/decide.js';
import { parseConnectRequest } from '../../routing/request.js';
import type { GateOptions } from '../../egress/address-gate.js';
import type { UpstreamProxy } from '../../egress/upstream-proxy.js';
import { dialTunnelDestination } from '../../egress/via-proxy.js';
import { identifyAgent, type Presented } from '../../gateway/auth.js';
import { upstreamError } from '../forward.js';
import type { Snapshot } from '../snapshot.js';
import { replyOnSocket } from '../socket-reply.js';
import type { InnerHttp } from './inner-http.js';
import type { Interceptor } from './intercept.js';
import { TunnelRecord } from './record.js';
import { splice } from './splice.js';

export interface ConnectDeps {
  readonly snapshot: () => Snapshot;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly gate: GateOptions;
  readonly draining: { readonly active: boolean; trackSocket(socket: Socket): void };
  readonly inner: InnerHttp;
  /** Null when no CA is configured: TLS to a routed host is then refused. */
  readonly interceptor: Interceptor | null;
  /** The upstream (corporate) proxy byte tunnels chain through; null or absent: direct. */
  readonly upstreamProxy?: () => UpstreamProxy | null;
}

/** The waits of one tunnel, from its snapshot. */
interface TunnelTimeouts {
  /** Byte tunnels: dialling the checked address. */
  readonly connectMs: number;
  /** Byte tunnels: longest silence before both ends are closed. */
  readonly idleMs: number;
  /** Routed tunnels: how long the agent has to send its first bytes (limits.headers_timeout). */
  readonly firstBytesMs: number;
  /** Intercepted tunnels: the agent's TLS handshake. */
  readonly handshakeMs: number;
}

const ESTABLISHED = 'HTTP/1.1 200 Connection Established\r\n\r\n';
const noop = (): void => undefined;

type Sniffed = 'http' | 'tls' | 'other';

/** TLS records start with handshake type 0x16; an HTTP request line with an uppercase method token. */
function sniff(first: number): Sniffed {
  if (first === 0x16) return 'tls';
  return first >= 0x41 && first <= 0x5a ? 'http' : 'other';
}

/** The `connect` event handler for the proxy listener. */
export function createConnectHandler(deps: ConnectDeps): (req: IncomingMessage, socket: Socket, head: Buffer) => void {
  return (req, socket, head) => {
    const rec = new TunnelRecord(deps.log, deps.metrics);
    socket.on('error', noop); // every ending is recorded on 'close'
    socket.once('close', () => rec.finish());
    deps.draining.trackSocket(socket);
    try {
      if (deps.draining.active) throw new SidecarError('SHUTTING_DOWN');
      // The Host header of a CONNECT is not compared: clients fill it inconsistently (Node's
      // own http.request sends the proxy's address); the authority is the only target.
      const snap = deps.snapshot();
      const auth = identifyAgent(snap.gateway, req);
      rec.agent = auth?.caller.agent.name ?? null;
      const request = parseConnectRequest(req.url ?? '');
      const { host, port } = request;
      rec.host = host;
      rec.port = port;
      // Before answering, only `head` (rarely sent) or the port can tell what the agent will speak.
      const early: Sniffed | null = head.length > 0 ? sniff(head[0]!) : port === 443 ? 'tls' : null;
      const view = { ...snap, interception: deps.interceptor !== null };
      const d = decide(view, { method: 'CONNECT', request, hostHeader: undefined, agent: auth?.caller.agent ?? null, tls: early === 'tls' });
      const t = snap.config.timeouts;
      const timeouts = { connectMs: t.tunnelConnectMs, idleMs: t.tunnelIdleMs, firstBytesMs: snap.config.limits.headersTimeoutMs, handshakeMs: t.tlsHandshakeMs };
      switch (d.kind) {
        case 'route':
          rec.route = d.route.name;
          routedTunnel(deps, rec, socket, head, early, { host, port }, timeouts, auth?.presented);
          break;
        case 'passthrough':
          rec.reason = snap.config.egress.unmatched === 'passthrough' ? 'unmatched_passthrough' : 'allow_list';
          void byteTunnel(deps, rec, socket, head, { host, port }, timeouts);
          break;
        case 'deny':
          rec.route = d.route?.name ?? null;
          throw new SidecarError(d.code, d.message === undefined ? {} : { message: d.message });
      }
    } catch (err) {
      refuse(rec, socket, err);
    }
  };
}

function refuse(rec: TunnelRecord, socket: Socket, err: unknown): void {
  rec.refused(err);
  replyOnSocket(socket, err, rec.route);
}

function established(rec: TunnelRecord, socket: Socket): void {
  socket.write(ESTABLISHED);
  rec.opened();
  const read0 = socket.bytesRead;
  const written0 = socket.bytesWritten;
  rec.measure ??= () => [socket.bytesRead - read0, socket.bytesWritten - written0];
}

/** A routed host: HTTP inside the tunnel, plain or intercepted, through the pipeline. */
function routedTunnel(
  deps: ConnectDeps,
  rec: TunnelRecord,
  socket: Socket,
  head: Buffer,
  early: Sniffed | null,
  { host, port }: { host: string; port: number },
  timeouts: TunnelTimeouts,
  presented?: Presented,
): void {
  const interceptor = deps.interceptor;
  if (early === 'other') throw new SidecarError('BAD_REQUEST', { message: 'The tunnel carries neither HTTP nor TLS.' });
  established(rec, socket);
  if (head.length > 0) socket.unshift(head);
  firstBytes(socket, timeouts.firstBytesMs, rec, (first) => {
    const kind = sniff(first);
    if (kind === 'http') {
      rec.decision = 'plain_http';
      rec.reason = 'route';
      deps.inner.serve(socket, { host, port, scheme: 'http', presented });
    } else if (kind === 'tls' && interceptor !== null) {
      rec.decision = 'intercept';
      rec.reason = 'route';
      interceptor.terminate(socket, host, timeouts.handshakeMs).then(
        (tls) => {
          tls.on('error', noop);
          // The decrypted socket ends the raw one with it, and vice versa.
          tls.once('close', () => socket.destroy());
          deps.inner.serve(tls, { host, port, scheme: 'https', presented });
        },
        (err: unknown) => rec.refused(new SidecarError(errCode(err), { cause: err })),
      );
    } else {
      rec.refused(kind === 'tls' ? new SidecarError('INTERCEPT_DISABLED') : new SidecarError('BAD_REQUEST'));
      socket.destroy();
    }
  });
}

function errCode(err: unknown): 'HOST_MISMATCH' | 'BAD_REQUEST' {
  return (err as { reason?: string }).reason === 'sni_mismatch' ? 'HOST_MISMATCH' : 'BAD_REQUEST';
}

/** Wait for the agent's first bytes, put them back, and call `then` with the first byte. */
function firstBytes(socket: Socket, timeoutMs: number, rec: TunnelRecord, then: (first: number) => void): void {
  const cleanup = (): void => {
    clearTimeout(timer);
    socket.removeListener('data', onData);
    socket.removeListener('end', onEnd);
  };
  const onData = (chunk: Buffer): void => {
    cleanup();
    socket.pause();
    socket.unshift(chunk);
    then(chunk[0]!);
  };
  const onEnd = (): void => {
    cleanup();
    socket.destroy();
  };
  const timer = setTimeout(() => {
    cleanup();
    rec.refused(new SidecarError('REQUEST_TIMEOUT'));
    socket.destroy();
  }, timeoutMs);
  socket.on('data', onData);
  socket.once('end', onEnd);
}

/** An allowed host without routes: gate, dial the checked address, then splice bytes. */
async function byteTunnel(
  deps: ConnectDeps,
  rec: TunnelRecord,
  socket: Socket,
  head: Buffer,
  { host, port }: { host: string; port: number },
  timeouts: TunnelTimeouts,
): Promise<void> {
  try {
    // Address gate, then the checked dial, or the CONNECT through the upstream proxy (egress/via-proxy).
    const proxy = deps.upstreamProxy?.() ?? null;
    rec.viaProxy = proxy?.endpointFor('tunnel', host, port) !== undefined;
    const t0 = performance.now();
    const { socket: upstream } = await dialTunnelDestination(proxy, host, port, deps.gate, timeouts.connectMs);
    rec.upstreamMs = performance.now() - t0;
    if (socket.destroyed) {
      upstream.destroy();
      return;
    }
    rec.decision = 'tunnel';
    // Through a proxy the socket has carried the CONNECT exchange already: count from here.
    const [w0, r0] = [upstream.bytesWritten, upstream.bytesRead - upstream.readableLength];
    rec.measure = () => [upstream.bytesWritten - w0, upstream.bytesRead - r0];
    established(rec, socket);
    splice(socket, upstream, head, timeouts.idleMs);
  } catch (err) {
    // Gate refusals are catalogued already; socket errors of the dial are mapped here.
    refuse(rec, socket, upstreamError(err));
  }
}

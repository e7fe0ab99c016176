/**
 * Wiring for CONNECT tunnels, TLS interception and WebSocket upgrades, so the
 * composition root needs one call: loads the interception CA when `tls.ca_dir` is set
 * (refusing a key readable by others), builds the internal HTTP server for tunnels
 * (registered with the drain), and returns the listener's `connect`/`upgrade` hooks.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Config } from '../config/types.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics/metrics.js';
import { loadCa } from '../tls/ca.js';
import type { GateOptions } from './address-gate.js';
import { createConnectHandler } from './connect.js';
import type { Draining } from './draining.js';
import { InnerHttp } from './inner-http.js';
import { Interceptor } from './intercept.js';
import type { Pipeline } from './pipeline.js';
import { dispatchRequest } from './server.js';
import type { Snapshot } from './snapshot.js';
import { createUpgradeHandler } from './websocket.js';

export interface TunnelsDeps {
  readonly config: Config;
  readonly pipeline: Pipeline;
  readonly snapshot: () => Snapshot;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly draining: Draining;
  readonly gate: GateOptions;
}

export interface Tunnels {
  readonly onConnect: (req: IncomingMessage, socket: Socket, head: Buffer) => void;
  readonly onUpgrade: (req: IncomingMessage, socket: Socket, head: Buffer) => void;
  readonly interceptor: Interceptor | null;
}

/** Byte tunnels and WebSockets: idle, not total, so long sessions live (I15). */
const TUNNEL_IDLE_MS = 300_000;
const TUNNEL_CONNECT_MS = 10_000;

export async function createTunnels(d: TunnelsDeps): Promise<Tunnels> {
  const caDir = d.config.tls.caDir;
  const ca = caDir === undefined ? null : await loadCa(caDir, { warn: (m) => d.log.warn(m) });
  const interceptor = ca === null ? null : new Interceptor(ca);
  if (ca !== null) d.log.info({ ca: ca.dir, fingerprint256: ca.cert.fingerprint256 }, 'TLS interception enabled for credential routes');

  const base = { pipeline: d.pipeline, snapshot: d.snapshot, isDraining: () => d.draining.active };
  const upgrade = createUpgradeHandler({ ...base, draining: d.draining, idleTimeoutMs: TUNNEL_IDLE_MS });
  const inner = new InnerHttp({ dispatch: (req, res, t) => dispatchRequest(base, req, res, t), upgrade, log: d.log }, d.config.limits);
  d.draining.track(inner.server);
  const onConnect = createConnectHandler({
    snapshot: d.snapshot,
    log: d.log,
    metrics: d.metrics,
    gate: d.gate,
    draining: d.draining,
    inner,
    interceptor,
    idleTimeoutMs: TUNNEL_IDLE_MS,
    connectTimeoutMs: TUNNEL_CONNECT_MS,
    firstBytesTimeoutMs: d.config.limits.headersTimeoutMs,
  });
  return { onConnect, onUpgrade: (req, socket, head) => upgrade(req, socket, head), interceptor };
}

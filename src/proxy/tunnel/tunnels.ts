/**
 * Wiring for CONNECT tunnels, TLS interception and WebSocket upgrades, so the
 * composition root needs two calls: `loadInterceptor` loads the interception CA when
 * `tls.ca_dir` is set (refusing a key readable by others) before anything starts, and
 * `createTunnels` builds the internal HTTP server for tunnels (registered with the
 * drain) and returns the listener's `connect`/`upgrade` hooks.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Config } from '../../config/types.js';
import type { Logger } from '../../log.js';
import type { Metrics } from '../../metrics/metrics.js';
import { loadCa } from '../../tls/ca.js';
import type { GateOptions } from '../../egress/address-gate.js';
import type { UpstreamProxy } from '../../egress/upstream-proxy.js';
import { dispatchRequest } from '../adapters.js';
import type { Draining } from '../draining.js';
import type { Pipeline } from '../pipeline.js';
import type { Snapshot } from '../snapshot.js';
import { createConnectHandler } from './connect.js';
import { InnerHttp } from './inner-http.js';
import { Interceptor } from './intercept.js';
import { createUpgradeHandler } from './websocket.js';

export interface TunnelsDeps {
  readonly config: Config;
  readonly pipeline: Pipeline;
  readonly snapshot: () => Snapshot;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly draining: Draining;
  readonly gate: GateOptions;
  /** From `loadInterceptor`; null when no CA is configured. */
  readonly interceptor: Interceptor | null;
  /** The upstream (corporate) proxy of the current configuration, or null. */
  readonly upstreamProxy?: () => UpstreamProxy | null;
}

export interface Tunnels {
  readonly onConnect: (req: IncomingMessage, socket: Socket, head: Buffer) => void;
  readonly onUpgrade: (req: IncomingMessage, socket: Socket, head: Buffer) => void;
  readonly interceptor: Interceptor | null;
}

/** Load the interception CA from `tls.ca_dir` (throws with the fix when it is unsafe or broken), or null when unset. */
export async function loadInterceptor(config: Config, log: Logger): Promise<Interceptor | null> {
  const caDir = config.tls.caDir;
  if (caDir === undefined) return null;
  const ca = await loadCa(caDir, { warn: (m) => log.warn(m) });
  log.info({ ca: ca.dir, fingerprint256: ca.cert.fingerprint256 }, 'TLS interception enabled for credential routes');
  return new Interceptor(ca);
}

export function createTunnels(d: TunnelsDeps): Tunnels {
  const interceptor = d.interceptor;
  const base = { pipeline: d.pipeline, snapshot: d.snapshot, isDraining: () => d.draining.active };
  const upgrade = createUpgradeHandler({ ...base, draining: d.draining });
  const inner = new InnerHttp({ dispatch: (req, res, tunnel) => dispatchRequest(base, req, res, { tunnel }), upgrade, log: d.log }, d.config.limits);
  d.draining.track(inner.server);
  const onConnect = createConnectHandler({
    snapshot: d.snapshot,
    log: d.log,
    metrics: d.metrics,
    gate: d.gate,
    draining: d.draining,
    inner,
    interceptor,
    ...(d.upstreamProxy === undefined ? {} : { upstreamProxy: d.upstreamProxy }),
  });
  return { onConnect, onUpgrade: (req, socket, head) => upgrade(req, socket, head), interceptor };
}

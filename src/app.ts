/**
 * The composition root: builds each collaborator once and wires them together. It
 * holds no request logic. `startSidecar` returns a handle with the bound addresses,
 * `reload()` and a graceful `close()`; the CLI and the tests both use it.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import type { Config, VaultSettings } from './config/types.js';
import { loadConfigFile } from './config/load.js';
import { createLogger, type Logger } from './log.js';
import { Metrics } from './metrics/metrics.js';
import { declareKnownSeries } from './metrics/known-series.js';
import { CredentialResolver } from './credentials/resolver.js';
import { Upstreams } from './proxy/upstreams.js';
import { Pipeline } from './proxy/pipeline.js';
import { createProxyServer } from './proxy/listener.js';
import { buildSnapshot, type Snapshot } from './proxy/snapshot.js';
import { startAdmin, type AdminServer } from './admin/server.js';
import type { ListenerAddress } from './routing/explain.js';
import { VaultClient, type VaultEndpoint } from './vault/client.js';
import { loadKeyFile } from './vault/keys.js';
import { Draining } from './proxy/draining.js';
import { gateFor, resolveEndpoint } from './egress/address-gate.js';
import { UpstreamProxies, type UpstreamProxy } from './egress/upstream-proxy.js';
import { createTunnels, loadInterceptor } from './proxy/tunnel/tunnels.js';
import { Limiter } from './gateway/limits.js';
import { AgentListeners } from './gateway/listeners.js';
import { VaultPool } from './vault/pool.js';
import { listen } from './listen.js';

export interface SidecarOptions {
  readonly config: Config;
  /** Path the config was loaded from; enables `reload()` without an argument. */
  readonly configPath?: string;
  /** Applied to every config read from `configPath` on reload (CLI overrides, dev-mode vault). */
  readonly transform?: (c: Config) => Config;
  readonly log?: Logger;
  readonly logLevel?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Default process metrics (off in tests that start many sidecars). */
  readonly defaultMetrics?: boolean;
  /** Monotonic milliseconds for rate limits (tests freeze it). */
  readonly now?: () => number;
  /** Name resolution for the address gate (default: the system resolver); tests give a fixed table. */
  readonly resolve?: (host: string) => Promise<ReadonlyArray<{ address: string; family: number }>>;
}

export interface Sidecar {
  readonly proxy: { host: string; port: number };
  readonly admin: { host: string; port: number } | null;
  readonly metrics: Metrics;
  /** The proxy listener (tests count its connections; nothing should write to it). */
  readonly server: Server;
  /** The current vault client (a reload that changes `vault:` replaces it). */
  readonly vault: VaultClient;
  readonly log: Logger;
  /** Gateway mode: the vault session an agent uses now (null before its first request needs one). */
  vaultFor(agent: string): VaultClient | null;
  /** Gateway mode: the bound address of an agent's dedicated listener. */
  agentListener(agent: string): { host: string; port: number } | null;
  snapshot(): Snapshot;
  /** Re-read (or take) a config; validate fully, then swap atomically. Throws on an invalid file (old config stays). */
  reload(next?: Config): Promise<void>;
  /** Not ready reason, or null. */
  notReadyReason(): string | null;
  /**
   * Shut down: keep serving for `limits.drain_delay` with readiness off, then stop accepting,
   * drain in-flight requests up to the deadline and close everything.
   */
  close(deadlineMs?: number): Promise<void>;
}

/** Refuse to run with TLS verification disabled process-wide (I7). */
export function assertTlsVerification(env: NodeJS.ProcessEnv): void {
  if (env.NODE_TLS_REJECT_UNAUTHORIZED === '0') {
    throw new Error(
      'NODE_TLS_REJECT_UNAUTHORIZED=0 disables certificate verification; the sidecar refuses to send credentials without it. Unset it, and trust private CAs with tls.upstream_ca_file instead.',
    );
  }
}

export function vaultEndpoint(v: VaultSettings): VaultEndpoint {
  if (v.socket !== undefined) return { socket: v.socket };
  if (v.tcp !== undefined) return { host: v.tcp.host, port: v.tcp.port };
  throw new Error('vault: neither socket nor tcp is set');
}

export async function startSidecar(opts: SidecarOptions): Promise<Sidecar> {
  const env = opts.env ?? process.env;
  assertTlsVerification(env);
  const log = opts.log ?? createLogger({ level: opts.logLevel ?? 'info' });
  const metrics = new Metrics({ defaultMetrics: opts.defaultMetrics ?? true });
  let snap = buildSnapshot(opts.config, 1);
  metrics.setConfig(snap.config.hash);
  declareKnownSeries(metrics, snap.config);

  // The interception CA is checked before anything starts, so a bad key fails start-up cleanly.
  const interceptor = await loadInterceptor(snap.config, log);
  if (interceptor !== null) metrics.setCaExpiry(interceptor.caNotAfterMs);
  metrics.setVaultState('connecting');
  let vault = await createVaultClient(snap.config.vault, env, log, metrics);
  vault.start();
  // Gateway mode: one session per further vault identity, opened on first use (I14).
  const pool = new VaultPool(
    (v) => createVaultClient(v, env, log, metrics, false),
    (v, err) => log.error({ agent: v.agent, err: err instanceof Error ? err.message : String(err) }, 'vault session could not be created'),
  );

  const extraCa = snap.config.tls.upstreamCaFile === undefined ? undefined : await readFile(snap.config.tls.upstreamCaFile, 'utf8');
  const ownEndpoints: Array<{ host: string; port: number }> = [];
  // The vault's address is never a tunnel or passthrough destination (I8); registered before listening.
  if (snap.config.vault.tcp !== undefined) ownEndpoints.push(...(await resolveEndpoint(snap.config.vault.tcp.host, snap.config.vault.tcp.port)));
  const gate = gateFor(() => snap.config, () => (agentListeners.endpoints.length === 0 ? ownEndpoints : [...ownEndpoints, ...agentListeners.endpoints]), opts.resolve);
  // Upstream (corporate) proxy: follows the snapshot; its credential is asked with the sidecar's own vault identity.
  const proxies = new UpstreamProxies({
    vault: () => vault,
    env,
    ownEndpoints: () => gate.ownEndpoints(),
    onConnect: (result) => metrics.upstreamProxyConnects.inc({ result }),
  });
  const upstreamProxy = (): UpstreamProxy | null => proxies.current(snap.config.upstreamProxy);
  const upstreams = new Upstreams({ extraCa, gate, upstreamProxy });
  const resolver = new CredentialResolver();
  const draining = new Draining();
  const limiter = new Limiter(opts.now);
  const pipeline = new Pipeline({
    snapshot: () => snap,
    vault: (a) => (a === null || a.vault === null ? vault : pool.source(a.vaultKey, a.vault)),
    resolver,
    limiter,
    upstreams,
    metrics,
    log,
  });

  const tunnels = createTunnels({ config: snap.config, pipeline, snapshot: () => snap, log, metrics, draining, gate, interceptor, upstreamProxy });
  const proxyDeps = { pipeline, snapshot: () => snap, log, isDraining: () => draining.active, onConnect: tunnels.onConnect, onUpgrade: tunnels.onUpgrade };
  const server: Server = createProxyServer(proxyDeps, snap.config.limits);
  metrics.countConnections(server, 'proxy');
  draining.track(server);
  await listen(server, snap.config.listen.host, snap.config.listen.port);
  const proxyAddr = server.address() as AddressInfo;
  ownEndpoints.push({ host: proxyAddr.address, port: proxyAddr.port });
  // Gateway mode: agents' dedicated listeners (every request there is that agent).
  const agentListeners = new AgentListeners((listener) => {
    const s = createProxyServer({ ...proxyDeps, listener }, snap.config.limits);
    metrics.countConnections(s, 'agent');
    return s;
  }, draining);
  (await agentListeners.update(snap.config))();

  let admin: AdminServer | null = null;
  let adminAddr: AddressInfo | null = null;
  const notReadyReason = (): string | null => {
    if (draining.active) return 'draining';
    if (draining.stopping) return 'shutting down: serving until the drain delay ends';
    const s = vault.state;
    if (s.status !== 'ready') return `vault ${s.status}${s.reason ? `: ${s.reason}` : ''}`;
    return null;
  };
  if (snap.config.admin !== undefined) {
    // `/explain` reads a URL naming one of the bound proxy addresses as a base URL.
    const listeners = (): ListenerAddress[] => [
      { host: proxyAddr.address, port: proxyAddr.port },
      ...snap.config.agents.flatMap((a) => {
        const bound = a.listen === undefined ? null : agentListeners.address(`${a.listen.host}:${a.listen.port}`);
        return bound === null ? [] : [{ ...bound, agent: a.name }];
      }),
    ];
    admin = await startAdmin({ snapshot: () => snap, metrics, notReadyReason, listeners }, snap.config.admin.host, snap.config.admin.port);
    adminAddr = admin.server.address() as AddressInfo;
    ownEndpoints.push({ host: adminAddr.address, port: adminAddr.port });
  }

  log.info(
    { proxy: `${proxyAddr.address}:${proxyAddr.port}`, admin: adminAddr ? `${adminAddr.address}:${adminAddr.port}` : null, routes: snap.config.routes.length, config: snap.config.hash },
    'sanctum-sidecar listening',
  );

  /** Apply changed vault settings by connecting a new client, then retiring the old one. */
  const replaceVault = async (config: Config): Promise<void> => {
    if (JSON.stringify(config.vault) === JSON.stringify(snap.config.vault)) return;
    const next = await createVaultClient(config.vault, env, log, metrics);
    next.start();
    const old = vault;
    vault = next;
    retired.add(old);
    log.info({ agent: config.vault.agent }, 'vault settings changed: reconnected with the new settings');
    // In-flight calls on the old client finish (bounded by their own timeouts) before it closes.
    setTimeout(() => {
      retired.delete(old);
      void old.close();
    }, snap.config.vault.timeoutMs + 100).unref();
  };
  const retired = new Set<VaultClient>();

  let closed: Promise<void> | null = null;
  return {
    proxy: { host: proxyAddr.address, port: proxyAddr.port },
    admin: adminAddr ? { host: adminAddr.address, port: adminAddr.port } : null,
    metrics,
    server,
    get vault(): VaultClient {
      return vault;
    },
    log,
    vaultFor(name: string): VaultClient | null {
      const a = snap.gateway?.agents.get(name);
      if (a === undefined) return null;
      return a.vault === null ? vault : pool.client(a.vaultKey);
    },
    agentListener(name: string) {
      const l = snap.gateway?.agents.get(name)?.listen;
      return l === undefined ? null : agentListeners.address(l);
    },
    snapshot: () => snap,
    notReadyReason,
    async reload(next?: Config): Promise<void> {
      try {
        const config =
          next ??
          (opts.configPath !== undefined
            ? (opts.transform ?? ((c: Config) => c))(await loadConfigFile(opts.configPath, env))
            : snap.config);
        const built = buildSnapshot(config, snap.generation + 1);
        const commitListeners = await agentListeners.update(config);
        await replaceVault(config);
        snap = built; // atomic swap: in-flight requests keep the snapshot they started with (I13)
        commitListeners();
        const routeNames = new Set(config.routes.map((r) => r.name));
        upstreams.retain(routeNames);
        resolver.clear();
        // Gateway mode: sessions of removed identities close; limits keep the state of unchanged settings.
        pool.retain(built.gateway?.vaultKeys() ?? new Set(), config.vault.timeoutMs + 100);
        limiter.retain(new Set(['', ...config.agents.map((a) => a.name)]), routeNames);
        metrics.configReloads.inc({ result: 'success' });
        metrics.setConfig(config.hash);
        declareKnownSeries(metrics, config);
        log.info({ config: config.hash, routes: config.routes.length, generation: built.generation }, 'configuration reloaded');
      } catch (err) {
        metrics.configReloads.inc({ result: 'error' });
        log.error({ err: err instanceof Error ? err.message : String(err) }, 'configuration reload failed; keeping the previous configuration');
        throw err;
      }
    },
    close(deadlineMs?: number): Promise<void> {
      closed ??= (async () => {
        const delayMs = snap.config.limits.drainDelayMs;
        if (delayMs > 0) log.info({ drain_delay_ms: delayMs }, 'shutting down: /readyz is 503; still serving until the drain delay ends');
        await draining.delay(delayMs);
        await draining.drain(deadlineMs ?? snap.config.limits.shutdownTimeoutMs);
        await admin?.close();
        await upstreams.close();
        await Promise.all([vault.close(), pool.close(), ...[...retired].map((c) => c.close())]);
        log.info('sanctum-sidecar stopped');
        log.flush();
      })();
      return closed;
    },
  };
}

/** A vault client for `v`; only the primary (top-level) one drives the connection-state gauge. */
async function createVaultClient(v: VaultSettings, env: NodeJS.ProcessEnv, log: Logger, metrics: Metrics, primary = true): Promise<VaultClient> {
  const passphrase = v.passphraseEnv !== undefined ? env[v.passphraseEnv] : undefined;
  const seed = await loadKeyFile(v.keyFile, {
    ...(passphrase !== undefined ? { passphrase } : {}),
    warn: (msg: string) => log.warn(msg),
  });
  return new VaultClient({
    endpoint: vaultEndpoint(v),
    agent: v.agent,
    seed,
    callTimeoutMs: v.timeoutMs,
    // The vault is local (a socket in the pod): retrying at most every second costs little
    // and keeps recovery after a vault restart within about a second.
    backoff: { initialMs: 100, maxMs: 1000 },
    onEvent: (e) => {
      if (e.type === 'state') {
        if (primary) metrics.setVaultState(e.state.status);
        const who = primary ? {} : { vault_agent: v.agent };
        if (e.state.status === 'failed') log.warn({ ...who, reason: e.state.reason }, 'vault connection failed');
        else log.info({ ...who, state: e.state.status }, 'vault connection state');
      } else if (e.type === 'protocol') {
        log.warn({ detail: e.message }, 'vault protocol error');
      } else {
        const op = e.operation ?? e.method;
        metrics.vaultRequests.inc({ operation: op, result: e.ok ? 'ok' : (e.code ?? 'error') });
        metrics.vaultDuration.observe({ operation: op }, e.ms / 1000);
      }
    },
  });
}


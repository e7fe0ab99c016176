/**
 * Schema-valid wire config into the domain `Config`: defaults, unit conversion, `~`
 * expansion and the cross-field rules of the top-level sections. Sections (and
 * routes) in which the schema already found problems are skipped, so one mistake is
 * reported once and every independent mistake is still reported.
 */
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import type { AllowEntry, Config, EgressSettings, HostPort, LimitsSettings, Route, TimeoutSettings, TlsSettings, VaultSettings } from './types.js';
import type { Issues } from './context.js';
import { convertAgents } from './agents.js';
import { allowEntryText, checkAddress, checkAllowEntry } from './hosts.js';
import { checkRouteNames, checkRouteTable } from './overlap.js';
import { convertRoute } from './routes.js';
import { convertUpstreamProxy, plaintextViaProxy, PLAINTEXT_VIA_PROXY_HINT } from './upstream-proxy.js';
import type { WireConfig, WireVault } from './schema.js';
import { isBroken } from './validate.js';

export const DEFAULTS = {
  listen: { host: '127.0.0.1', port: 8080 },
  admin: { host: '127.0.0.1', port: 9090 },
  vaultSocket: '~/.sanctum/vault.sock',
  vaultTimeoutMs: 2000,
  limits: {
    headersTimeoutMs: 10_000,
    requestTimeoutMs: 0,
    keepAliveTimeoutMs: 65_000,
    maxHeaderBytes: 16_384,
    maxConnections: 1024,
    maxDelegatesInFlight: 128,
    shutdownTimeoutMs: 25_000,
    retryBufferBytes: 64 * 1024,
    bodyIdleTimeoutMs: 60_000,
    drainDelayMs: 0,
  },
  timeouts: {
    passthrough: { connectMs: 10_000, headersMs: 60_000, idleMs: 300_000 },
    tunnelConnectMs: 10_000,
    tunnelIdleMs: 300_000,
    websocketIdleMs: 300_000,
    tlsHandshakeMs: 10_000,
  },
} as const satisfies { limits: LimitsSettings; timeouts: TimeoutSettings } & Record<string, unknown>;

export interface ConvertOptions {
  readonly env: NodeJS.ProcessEnv;
  /** Directory that relative paths are resolved against; undefined keeps them relative (to the cwd). */
  readonly baseDir: string | undefined;
}

/** `~` and `~/x` expand to the home directory (HOME from `env` first); relative paths resolve against baseDir. */
export function expandPath(p: string, opts: ConvertOptions): string {
  const home = opts.env['HOME'] || homedir();
  if (p === '~') return home;
  if (p.startsWith('~/')) return join(home, p.slice(2));
  if (isAbsolute(p) || opts.baseDir === undefined) return p;
  return resolve(opts.baseDir, p);
}

function address(issues: Issues, path: string[], raw: string, allowZero: boolean): HostPort | undefined {
  const checked = checkAddress(raw, allowZero);
  if (checked.ok) return checked.value;
  issues.add(path, checked.message);
  return undefined;
}

function convertVault(issues: Issues, v: WireVault, opts: ConvertOptions): VaultSettings {
  let tcp: HostPort | undefined;
  if (v.socket !== undefined && v.tcp !== undefined) {
    issues.add(['vault', 'tcp'], 'give either vault.socket or vault.tcp, not both');
  }
  if (v.tcp !== undefined) tcp = address(issues, ['vault', 'tcp'], v.tcp, false);
  const socket = v.tcp === undefined ? expandPath(v.socket ?? DEFAULTS.vaultSocket, opts) : undefined;
  return {
    agent: v.agent,
    socket,
    tcp,
    keyFile: expandPath(v.key_file ?? `~/.sanctum/keys/${v.agent}.key`, opts),
    passphraseEnv: v.passphrase_env,
    timeoutMs: issues.duration(['vault', 'timeout'], v.timeout, DEFAULTS.vaultTimeoutMs),
  };
}

function convertEgress(issues: Issues, w: WireConfig): EgressSettings {
  const e = w.egress ?? {};
  const allow: AllowEntry[] = [];
  (e.allow ?? []).forEach((raw, i) => {
    if (raw === '*' || raw.startsWith('*:')) {
      issues.add(['egress', 'allow', i], '"*" would allow every host; set `egress.unmatched: passthrough` if that is really meant');
      return;
    }
    const checked = checkAllowEntry(raw);
    if (!checked.ok) issues.add(['egress', 'allow', i], `egress.allow entry ${checked.message}`);
    else if (!allow.some((a) => allowEntryText(a) === allowEntryText(checked.value))) allow.push(checked.value);
  });
  return {
    unmatched: e.unmatched ?? 'deny',
    allow,
    blockPrivateAddresses: e.block_private_addresses ?? true,
    hostHeaderForm: e.host_header_form ?? false,
  };
}

function convertLimits(issues: Issues, w: WireConfig): LimitsSettings {
  const l = w.limits ?? {};
  const d = DEFAULTS.limits;
  return {
    headersTimeoutMs: issues.duration(['limits', 'headers_timeout'], l.headers_timeout, d.headersTimeoutMs),
    requestTimeoutMs: issues.duration(['limits', 'request_timeout'], l.request_timeout, d.requestTimeoutMs),
    keepAliveTimeoutMs: issues.duration(['limits', 'keep_alive_timeout'], l.keep_alive_timeout, d.keepAliveTimeoutMs),
    maxHeaderBytes: l.max_header_bytes ?? d.maxHeaderBytes,
    maxConnections: l.max_connections ?? d.maxConnections,
    maxDelegatesInFlight: l.max_delegate_in_flight ?? d.maxDelegatesInFlight,
    shutdownTimeoutMs: issues.duration(['limits', 'shutdown_timeout'], l.shutdown_timeout, d.shutdownTimeoutMs),
    retryBufferBytes: retryBuffer(issues, l.retry_buffer),
    bodyIdleTimeoutMs: issues.duration(['limits', 'body_idle_timeout'], l.body_idle_timeout, d.bodyIdleTimeoutMs),
    drainDelayMs: issues.duration(['limits', 'drain_delay'], l.drain_delay, d.drainDelayMs),
  };
}

/** `timeouts:`; each must be above zero (a zero would mean "wait forever", against I15). */
function convertTimeouts(issues: Issues, w: WireConfig): TimeoutSettings {
  const t = w.timeouts ?? {};
  const p = t.passthrough ?? {};
  const d = DEFAULTS.timeouts;
  const positive = (path: string[], value: string | number | undefined, dflt: number): number => {
    const ms = issues.duration(['timeouts', ...path], value, dflt);
    if (ms <= 0) issues.add(['timeouts', ...path], 'must be more than 0');
    return ms;
  };
  return {
    passthrough: {
      connectMs: positive(['passthrough', 'connect'], p.connect, d.passthrough.connectMs),
      headersMs: positive(['passthrough', 'headers'], p.headers, d.passthrough.headersMs),
      idleMs: positive(['passthrough', 'idle'], p.idle, d.passthrough.idleMs),
    },
    tunnelConnectMs: positive(['tunnel_connect'], t.tunnel_connect, d.tunnelConnectMs),
    tunnelIdleMs: positive(['tunnel_idle'], t.tunnel_idle, d.tunnelIdleMs),
    websocketIdleMs: positive(['websocket_idle'], t.websocket_idle, d.websocketIdleMs),
    tlsHandshakeMs: positive(['tls_handshake'], t.tls_handshake, d.tlsHandshakeMs),
  };
}

/** Held bodies cost memory per request in flight: keep the bound modest. */
const MAX_RETRY_BUFFER = 16 * 1024 * 1024;

function retryBuffer(issues: Issues, raw: string | number | undefined): number {
  const bytes = issues.size(['limits', 'retry_buffer'], raw, DEFAULTS.limits.retryBufferBytes);
  if (bytes <= MAX_RETRY_BUFFER) return bytes;
  issues.add(['limits', 'retry_buffer'], 'limits.retry_buffer is at most 16mb (each request in flight may hold this much memory)');
  return DEFAULTS.limits.retryBufferBytes;
}

function convertTls(w: WireConfig, opts: ConvertOptions): TlsSettings {
  const t = w.tls ?? {};
  return {
    caDir: t.ca_dir === undefined ? undefined : expandPath(t.ca_dir, opts),
    upstreamCaFile: t.upstream_ca_file === undefined ? undefined : expandPath(t.upstream_ca_file, opts),
  };
}

function convertAdmin(issues: Issues, admin: WireConfig['admin']): HostPort | undefined {
  if (admin === undefined) return DEFAULTS.admin;
  if (admin === null || admin === false) return undefined;
  if (admin === true) {
    issues.add(['admin'], 'admin: true is not an address; write host:port (e.g. 127.0.0.1:9090), or false to disable');
    return undefined;
  }
  return address(issues, ['admin'], admin, true);
}

/**
 * Convert the parts of `w` the schema accepted. `broken` lists the YAML paths with
 * schema errors; the result is only meaningful when `issues` ends up empty.
 */
export function convertConfig(
  issues: Issues,
  w: WireConfig,
  broken: ReadonlySet<string>,
  opts: ConvertOptions,
): Omit<Config, 'hash' | 'source'> {
  const ok = (path: string): boolean => !isBroken(broken, path);
  const listen = w.listen !== undefined && ok('listen') ? address(issues, ['listen'], w.listen, true) : undefined;
  const admin = ok('admin') ? convertAdmin(issues, w.admin) : undefined;
  const vault = w.vault !== undefined && ok('vault') ? convertVault(issues, w.vault, opts) : undefined;
  const egress = ok('egress') ? convertEgress(issues, w) : convertEgress(issues, {} as WireConfig);
  const located: { route: Route; index: number }[] = [];
  // Each schema-clean route is converted even when a sibling is broken.
  (Array.isArray(w.routes) ? w.routes : []).forEach((wr, index) => {
    if (!ok(`routes[${index}]`)) return;
    const route = convertRoute(issues, wr, index);
    if (route) located.push({ route, index });
  });
  if (Array.isArray(w.routes)) checkRouteNames(issues, w.routes);
  checkRouteTable(issues, located);
  // Upstream proxy: settings, then the plain-http credential routes it would see (README "Corporate proxy").
  const upstreamProxy = ok('egress') && w.egress !== undefined ? convertUpstreamProxy(issues, w.egress, opts.env) : undefined;
  for (const r of plaintextViaProxy(located.map((l) => l.route), upstreamProxy)) {
    issues.add(['routes', located.find((l) => l.route === r)!.index, 'upstream'], PLAINTEXT_VIA_PROXY_HINT);
  }
  const agents = convertAgents(
    issues,
    Array.isArray(w.agents) && !broken.has('agents') ? w.agents : undefined,
    (i) => ok(`agents[${i}]`),
    Array.isArray(w.routes) ? w.routes : [],
    located.map((l) => l.route),
    { listen: listen ?? DEFAULTS.listen, admin },
    (p) => expandPath(p, opts),
  );
  return {
    version: 1,
    listen: listen ?? DEFAULTS.listen,
    admin,
    adminDetail: w.admin_detail ?? false,
    vault: vault ?? ({} as VaultSettings),
    egress,
    tls: ok('tls') ? convertTls(w, opts) : { caDir: undefined, upstreamCaFile: undefined },
    limits: ok('limits') ? convertLimits(issues, w) : DEFAULTS.limits,
    timeouts: ok('timeouts') ? convertTimeouts(issues, w) : DEFAULTS.timeouts,
    routes: located.map((l) => l.route),
    ...(upstreamProxy === undefined ? {} : { upstreamProxy }),
    agents,
  };
}

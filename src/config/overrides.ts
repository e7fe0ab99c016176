/**
 * Flags and SANCTUM_SIDECAR_* environment variables that override routes.yaml
 * (precedence: flags > environment > file). Applied to the domain Config after it
 * has been validated, so an override cannot bypass the file's checks on routes.
 */
import type { Config, HostPort } from './types.js';
import { parseDuration } from './duration.js';
import { effectiveUpstreamProxy, plaintextViaProxy, PLAINTEXT_VIA_PROXY_HINT } from './upstream-proxy.js';

export const OVERRIDE_OPTIONS = {
  listen: { type: 'string' },
  admin: { type: 'string' },
  'log-level': { type: 'string' },
  'vault-socket': { type: 'string' },
  'vault-tcp': { type: 'string' },
  'vault-agent': { type: 'string' },
  'key-file': { type: 'string' },
  'ca-dir': { type: 'string' },
  'shutdown-timeout': { type: 'string' },
  'drain-delay': { type: 'string' },
  'upstream-proxy': { type: 'string' },
} as const;

/** Each override flag's environment twin (the CLI's --help lists the same table). */
export const OVERRIDE_ENV: Readonly<Record<keyof typeof OVERRIDE_OPTIONS, string>> = {
  listen: 'SANCTUM_SIDECAR_LISTEN',
  admin: 'SANCTUM_SIDECAR_ADMIN',
  'log-level': 'SANCTUM_SIDECAR_LOG_LEVEL',
  'vault-socket': 'SANCTUM_SIDECAR_VAULT_SOCKET',
  'vault-tcp': 'SANCTUM_SIDECAR_VAULT_TCP',
  'vault-agent': 'SANCTUM_SIDECAR_VAULT_AGENT',
  'key-file': 'SANCTUM_SIDECAR_KEY_FILE',
  'ca-dir': 'SANCTUM_SIDECAR_CA_DIR',
  'shutdown-timeout': 'SANCTUM_SIDECAR_SHUTDOWN_TIMEOUT',
  'drain-delay': 'SANCTUM_SIDECAR_DRAIN_DELAY',
  'upstream-proxy': 'SANCTUM_SIDECAR_UPSTREAM_PROXY',
};

export type OverrideValues = Partial<Record<keyof typeof OVERRIDE_OPTIONS, string | undefined>>;

/** `host:port` or `[v6]:port`; port 0 allowed (ephemeral). */
export function parseHostPort(s: string, what: string): HostPort {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(s.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`${what}: expected HOST:PORT, got '${s}'`);
  return { host: (m[1] ?? m[2])!, port };
}

export function applyOverrides(config: Config, flags: OverrideValues, env: NodeJS.ProcessEnv): Config {
  const pick = (flag: keyof typeof OVERRIDE_OPTIONS): string | undefined => {
    const v = flags[flag] ?? env[OVERRIDE_ENV[flag]];
    return v === undefined || v === '' ? undefined : v;
  };
  const listen = pick('listen');
  const admin = pick('admin');
  const socket = pick('vault-socket');
  const tcp = pick('vault-tcp');
  const agent = pick('vault-agent');
  const keyFile = pick('key-file');
  const caDir = pick('ca-dir');
  const shutdown = pick('shutdown-timeout');
  const drainDelay = pick('drain-delay');
  if (socket !== undefined && tcp !== undefined) throw new Error('--vault-socket and --vault-tcp are mutually exclusive');
  const proxy = pick('upstream-proxy');
  return {
    ...config,
    listen: listen !== undefined ? parseHostPort(listen, '--listen') : config.listen,
    admin: admin !== undefined ? (admin === 'off' ? undefined : parseHostPort(admin, '--admin')) : config.admin,
    vault: {
      ...config.vault,
      ...(agent !== undefined ? { agent } : {}),
      ...(keyFile !== undefined ? { keyFile } : {}),
      ...(socket !== undefined ? { socket, tcp: undefined } : {}),
      ...(tcp !== undefined ? { tcp: parseHostPort(tcp, '--vault-tcp'), socket: undefined } : {}),
    },
    tls: { ...config.tls, ...(caDir !== undefined ? { caDir } : {}) },
    limits: {
      ...config.limits,
      ...(shutdown !== undefined ? { shutdownTimeoutMs: parseDuration(shutdown) } : {}),
      ...(drainDelay !== undefined ? { drainDelayMs: parseDuration(drainDelay) } : {}),
    },
    ...(proxy !== undefined ? { upstreamProxy: overrideUpstreamProxy(config, proxy, flags['upstream-proxy'] !== undefined, env) } : {}),
  };
}

/**
 * `--upstream-proxy` / SANCTUM_SIDECAR_UPSTREAM_PROXY: a URL, `env` or `off`, with the
 * file's no_proxy and credential, under the same rules as `egress.upstream_proxy`
 * (including the plain-http credential routes it may not carry without opt-in).
 */
function overrideUpstreamProxy(config: Config, value: string, fromFlag: boolean, env: NodeJS.ProcessEnv): NonNullable<Config['upstreamProxy']> {
  const from = fromFlag ? '--upstream-proxy' : 'SANCTUM_SIDECAR_UPSTREAM_PROXY';
  const current = config.upstreamProxy;
  const { value: next, problems } = effectiveUpstreamProxy(value, from, current?.configuredNoProxy ?? [], current?.configuredCredential, env);
  if (problems.length > 0) throw new Error(problems.map((p) => p.message).join('; '));
  const exposed = plaintextViaProxy(config.routes, next);
  if (exposed.length > 0) throw new Error(`${from}: route ${exposed.map((r) => r.name).join(', ')}: ${PLAINTEXT_VIA_PROXY_HINT}`);
  return next;
}

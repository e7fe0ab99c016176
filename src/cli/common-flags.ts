/**
 * Flags shared by several commands: `--config` and the settings that override
 * routes.yaml (precedence: flag > SANCTUM_SIDECAR_* environment > routes.yaml >
 * built-in default). The override names and their environment twins come from
 * config/overrides.ts, which applies them; this file adds what `--help` shows.
 */
import { OVERRIDE_ENV, type OVERRIDE_OPTIONS } from '../config/overrides.js';
import type { Flag } from './flags.js';

export const CONFIG_FLAG = {
  type: 'string',
  short: 'c',
  arg: 'FILE',
  env: 'SANCTUM_SIDECAR_CONFIG',
  default: 'routes.yaml',
  help: 'the routes.yaml to load',
} as const satisfies Flag;

type OverrideName = keyof typeof OVERRIDE_OPTIONS;

const OVERRIDE_HELP: Record<OverrideName, { arg: string; help: string; defaultText: string }> = {
  listen: { arg: 'HOST:PORT', help: 'the proxy listener', defaultText: 'listen: in routes.yaml, else 127.0.0.1:8080' },
  admin: { arg: 'HOST:PORT|off', help: 'the admin listener (health, metrics, /routes, /explain); off disables it', defaultText: 'admin: in routes.yaml, else 127.0.0.1:9090' },
  'log-level': { arg: 'LEVEL', help: 'trace, debug, info, warn, error or fatal', defaultText: 'info' },
  'vault-socket': { arg: 'PATH', help: "the vault's Unix socket (instead of vault.socket / vault.tcp)", defaultText: 'vault: in routes.yaml' },
  'vault-tcp': { arg: 'HOST:PORT', help: "the vault's TCP address (instead of vault.socket / vault.tcp)", defaultText: 'vault: in routes.yaml' },
  'vault-agent': { arg: 'NAME', help: 'the agent name registered with the vault', defaultText: 'vault.agent in routes.yaml' },
  'key-file': { arg: 'PATH', help: "the agent's Ed25519 key file", defaultText: 'vault.key_file in routes.yaml' },
  'ca-dir': { arg: 'DIR', help: 'the TLS interception CA directory (sanctum-sidecar ca init)', defaultText: 'tls.ca_dir in routes.yaml, else interception is off' },
  'shutdown-timeout': { arg: 'DURATION', help: 'how long SIGTERM waits for in-flight requests', defaultText: 'limits.shutdown_timeout in routes.yaml, else 25s' },
  'drain-delay': { arg: 'DURATION', help: 'after SIGTERM, keep serving this long with /readyz 503 before draining', defaultText: 'limits.drain_delay in routes.yaml, else 0s' },
  'upstream-proxy': {
    arg: 'URL|env|off',
    help: 'chain upstream traffic through this corporate HTTP proxy (http://HOST:PORT; env reads HTTPS_PROXY/HTTP_PROXY/NO_PROXY; off disables it)',
    defaultText: 'egress.upstream_proxy in routes.yaml, else off',
  },
};

/** The override flags with their environment twins, for a command's `flags`. */
export const OVERRIDE_FLAGS = Object.fromEntries(
  (Object.keys(OVERRIDE_HELP) as OverrideName[]).map((name) => [name, { type: 'string', env: OVERRIDE_ENV[name], ...OVERRIDE_HELP[name] } satisfies Flag]),
) as Record<OverrideName, Flag & { type: 'string' }>;

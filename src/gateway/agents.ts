/**
 * Gateway mode, compiled once per config snapshot (I13, I14): who the agents are, how
 * a presented proxy token maps to one of them, which routes each may use, the vault
 * identity and credential paths each one resolves with, and the tripwire needles.
 * Everything a request needs is a Map or Set lookup here; nothing is derived per request
 * except the sha256 of the token it presents.
 *
 * Token check: the sidecar stores only sha256(token). A presented token is hashed and
 * compared with `timingSafeEqual` against every agent's hash, always all of them, so
 * neither the token's bytes nor which agent it belongs to shows in the timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AgentSettings, Config, VaultSettings } from '../config/types.js';
import type { RateLimit, Route } from '../routing/route.js';
import { Tripwires } from './tripwire.js';

export interface AgentEntry {
  readonly name: string;
  /** sha256 of the proxy token; null for an agent reached only through its own listener. */
  readonly hash: Buffer | null;
  readonly routes: ReadonlySet<string>;
  /** Vault paths of this agent's templated routes (`openai/{agent}` → `openai/alpha`). */
  readonly credentialPaths: ReadonlyMap<string, string>;
  /** The agent's own vault identity, or null for the top-level `vault:` one. */
  readonly vault: VaultSettings | null;
  /** Pool key of that identity ('' for the top-level one). */
  readonly vaultKey: string;
  readonly rateLimit: RateLimit | undefined;
  /** `host:port` of its dedicated listener, as configured. */
  readonly listen: string | undefined;
  readonly placeholders: readonly string[];
}

/** `openai/{agent}/key` for `alpha` → `openai/alpha/key` (templates are validated as whole segments). */
export function expandCredential(template: string, agent: string): string {
  return template.includes('{agent}') ? template.split('{agent}').join(agent) : template;
}

/** The pool key of a vault identity: everything that makes two sessions different. */
export function vaultKeyOf(v: VaultSettings): string {
  const where = v.socket ?? `${v.tcp?.host}:${v.tcp?.port}`;
  return [v.agent, v.keyFile, v.passphraseEnv ?? '', where, v.timeoutMs].join('\u0000');
}

/** Templated credential paths for one agent name; only routes that use `{agent}`. */
export function templatedPaths(routes: readonly Route[], agent: string, names?: ReadonlySet<string>): ReadonlyMap<string, string> {
  const out = new Map<string, string>();
  for (const r of routes) {
    if (r.credential === null || !r.credential.includes('{agent}')) continue;
    if (names === undefined || names.has(r.name)) out.set(r.name, expandCredential(r.credential, agent));
  }
  return out;
}

function entryOf(a: AgentSettings, config: Config): AgentEntry {
  const own = a.vault === undefined ? null : { ...config.vault, agent: a.vault.agent, keyFile: a.vault.keyFile, passphraseEnv: a.vault.passphraseEnv };
  // An agent whose identity equals the top-level one shares the default session.
  const vault = own !== null && vaultKeyOf(own) !== vaultKeyOf(config.vault) ? own : null;
  const routes = new Set(a.routes);
  return {
    name: a.name,
    hash: a.tokenSha256 === undefined ? null : Buffer.from(a.tokenSha256, 'hex'),
    routes,
    credentialPaths: templatedPaths(config.routes, a.name, routes),
    vault,
    vaultKey: vault === null ? '' : vaultKeyOf(vault),
    rateLimit: a.rateLimit,
    listen: a.listen === undefined ? undefined : `${a.listen.host}:${a.listen.port}`,
    placeholders: a.placeholders,
  };
}

export class Gateway {
  readonly agents: ReadonlyMap<string, AgentEntry>;
  /** Dedicated listeners by configured `host:port`. */
  readonly byListen: ReadonlyMap<string, AgentEntry>;
  readonly tripwires: Tripwires;
  readonly #withToken: readonly AgentEntry[];
  readonly #zero = Buffer.alloc(32);

  constructor(config: Config) {
    const list = config.agents.map((a) => entryOf(a, config));
    this.agents = new Map(list.map((a) => [a.name, a]));
    this.byListen = new Map(list.filter((a) => a.listen !== undefined).map((a) => [a.listen!, a]));
    this.#withToken = list.filter((a) => a.hash !== null);
    this.tripwires = new Tripwires(list, config.routes);
  }

  /** The agent whose token this is, or null. Constant time in the token and in which agent matches. */
  authenticate(token: string): AgentEntry | null {
    const digest = createHash('sha256').update(token, 'utf8').digest();
    let found: AgentEntry | null = null;
    for (const a of this.#withToken) {
      // No early exit: every hash is compared whatever the outcome.
      const same = timingSafeEqual(a.hash ?? this.#zero, digest);
      if (same) found = a;
    }
    return found;
  }

  /** Vault pool keys in use by this config's agents ('' = the top-level identity). */
  vaultKeys(): Set<string> {
    return new Set([...this.agents.values()].map((a) => a.vaultKey));
  }
}

/** The gateway of a config, or null for the single-agent sidecar. */
export function buildGateway(config: Config): Gateway | null {
  return config.agents.length === 0 ? null : new Gateway(config);
}

/**
 * dev-vault.yaml: the wire shape (DevVaultConfig, exactly as written in YAML) and
 * its one conversion into the settings the vault runs on (STYLE 2). Validation is
 * strict (unknown keys are errors, so a typo cannot silently widen a policy) and
 * every problem names its YAML path and, when read from a file, its line.
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { lineOf, parseYaml } from '../config/yaml-doc.js';
import { hexToBytes } from '../vault/hex.js';
import { ACTIONS, compilePolicy, OPERATIONS, type Policy } from './policy.js';

export interface DevVaultConfig {
  listen?: string;
  socket?: string;
  agents?: Record<string, { public_key: string }>;
  credentials?: Record<string, { value?: string; env?: string; type?: string; tags?: string[] }>;
  policies?: Array<{
    name?: string;
    principal: string;
    resources: string[];
    actions: string[];
    allowed_operations?: string[];
    allowed_domains?: string[];
  }>;
  allow_loopback?: boolean;
  /** Duration: `1h`, `30s`, `500ms`, or a number of seconds. */
  session_ttl?: string | number;
  challenge_ttl?: string | number;
  rate_limit?: { per_second: number };
}

export type ListenAddress = { host: string; port: number } | { socket: string };

export interface StoredCredential {
  /** Undefined when it comes from an environment variable that is not set. */
  value: string | undefined;
  env: string | undefined;
  type: string | undefined;
  tags: string[] | undefined;
}

export interface DevVaultSettings {
  listen: ListenAddress | undefined;
  agents: Map<string, Uint8Array>;
  credentials: Map<string, StoredCredential>;
  policies: Policy[];
  allowLoopback: boolean;
  sessionTtlMs: number;
  challengeTtlMs: number;
  ratePerSecond: number | undefined;
}

export class DevVaultConfigError extends Error {
  constructor(readonly source: string, readonly issues: string[]) {
    super(`${source}: invalid development vault file\n` + issues.map((i) => `  ${i}`).join('\n'));
    this.name = 'DevVaultConfigError';
  }
}

/** Read and validate a dev-vault.yaml file. */
export async function loadDevVaultFile(file: string, env: NodeJS.ProcessEnv): Promise<DevVaultSettings> {
  const text = await readFile(file, 'utf8');
  // The YAML parser lives in config/ (one home per dependency); no ${VAR} interpolation here.
  const parsed = parseYaml(text);
  if (parsed.issues.length > 0) throw new DevVaultConfigError(file, parsed.issues.map((i) => `${file}:${i.line ?? '?'}: ${i.message}`));
  const where = (path: (string | number)[]): string => {
    const line = lineOf(parsed, path);
    return line === undefined ? file : `${file}:${line}`;
  };
  return settingsFromConfig((parsed.doc.toJS() ?? {}) as DevVaultConfig, env, file, where);
}

/** Validate a parsed config object and convert it. Throws DevVaultConfigError listing every problem. */
export function settingsFromConfig(
  config: DevVaultConfig,
  env: NodeJS.ProcessEnv,
  source = 'dev vault config',
  where: (path: (string | number)[]) => string = () => source,
): DevVaultSettings {
  const issues: string[] = [];
  const issue = (path: (string | number)[], msg: string): void => {
    issues.push(`${where(path)} at ${path.join('.') || '(root)'}: ${msg}`);
  };
  const c = (isObject(config) ? config : (issue([], 'must be a mapping'), {})) as Record<string, unknown>;
  onlyKeys(c, ['listen', 'socket', 'agents', 'credentials', 'policies', 'allow_loopback', 'session_ttl', 'challenge_ttl', 'rate_limit'], [], issue);

  let listen: ListenAddress | undefined;
  if (c.listen !== undefined && c.socket !== undefined) issue(['socket'], 'give listen or socket, not both');
  if (c.listen !== undefined) listen = parseListen(c.listen) ?? (issue(['listen'], 'must be HOST:PORT, e.g. 127.0.0.1:7600'), undefined);
  if (c.socket !== undefined) listen = typeof c.socket === 'string' && c.socket !== '' ? { socket: c.socket } : (issue(['socket'], 'must be a path'), undefined);

  const agents = new Map<string, Uint8Array>();
  for (const [name, a] of entries(c.agents, ['agents'], issue)) {
    const key = isObject(a) && typeof a.public_key === 'string' ? hexToBytes(a.public_key.trim()) : null;
    if (isObject(a)) onlyKeys(a, ['public_key'], ['agents', name], issue);
    if (key === null || key.length !== 32) issue(['agents', name, 'public_key'], 'must be a 32-byte Ed25519 public key in hex (sanctum-sidecar keygen prints it)');
    else agents.set(name, key);
  }

  const credentials = new Map<string, StoredCredential>();
  for (const [path, cr] of entries(c.credentials, ['credentials'], issue)) {
    if (!isObject(cr)) {
      issue(['credentials', path], 'must be {value: ...} or {env: VAR}');
      continue;
    }
    onlyKeys(cr, ['value', 'env', 'type', 'tags'], ['credentials', path], issue);
    const hasValue = typeof cr.value === 'string';
    const hasEnv = typeof cr.env === 'string' && cr.env !== '';
    if (hasValue === hasEnv) issue(['credentials', path], 'needs exactly one of value (a string) or env (a variable name)');
    if (cr.tags !== undefined && !isStringArray(cr.tags)) issue(['credentials', path, 'tags'], 'must be a list of strings');
    if (cr.type !== undefined && typeof cr.type !== 'string') issue(['credentials', path, 'type'], 'must be a string');
    credentials.set(path, {
      value: hasValue ? (cr.value as string) : hasEnv ? env[cr.env as string] : undefined,
      env: hasEnv ? (cr.env as string) : undefined,
      type: typeof cr.type === 'string' ? cr.type : undefined,
      tags: isStringArray(cr.tags) ? cr.tags : undefined,
    });
  }

  const policies: Policy[] = [];
  const rawPolicies = c.policies === undefined ? [] : Array.isArray(c.policies) ? c.policies : (issue(['policies'], 'must be a list'), []);
  rawPolicies.forEach((p: unknown, i) => {
    const at = ['policies', i];
    if (!isObject(p)) return issue(at, 'must be a mapping');
    onlyKeys(p, ['name', 'principal', 'resources', 'actions', 'allowed_operations', 'allowed_domains'], at, issue);
    const before = issues.length;
    if (typeof p.principal !== 'string' || !p.principal.startsWith('agent:')) issue([...at, 'principal'], 'must be "agent:<glob>", e.g. "agent:*"');
    if (!isStringArray(p.resources) || p.resources.length === 0) issue([...at, 'resources'], 'must be a non-empty list of path globs');
    if (!isStringArray(p.actions) || p.actions.length === 0) issue([...at, 'actions'], `must be a non-empty list of ${ACTIONS.join(', ')}`);
    else for (const a of p.actions) if (!(ACTIONS as readonly string[]).includes(a)) issue([...at, 'actions'], `unknown action "${a}" (use ${ACTIONS.join(', ')})`);
    if (p.allowed_operations !== undefined) {
      if (!isStringArray(p.allowed_operations)) issue([...at, 'allowed_operations'], 'must be a list');
      else for (const o of p.allowed_operations) if (!(OPERATIONS as readonly string[]).includes(o)) issue([...at, 'allowed_operations'], `unknown operation "${o}" (use ${OPERATIONS.join(', ')})`);
    }
    if (p.allowed_domains !== undefined && !isStringArray(p.allowed_domains)) issue([...at, 'allowed_domains'], 'must be a list of host globs');
    if (p.name !== undefined && typeof p.name !== 'string') issue([...at, 'name'], 'must be a string');
    if (issues.length === before) policies.push(compilePolicy(p as Parameters<typeof compilePolicy>[0], i));
  });

  if (c.allow_loopback !== undefined && typeof c.allow_loopback !== 'boolean') issue(['allow_loopback'], 'must be true or false');
  const sessionTtlMs = duration(c.session_ttl, 3_600_000, ['session_ttl'], issue);
  const challengeTtlMs = duration(c.challenge_ttl, 30_000, ['challenge_ttl'], issue);
  let ratePerSecond: number | undefined;
  if (c.rate_limit !== undefined) {
    const r = c.rate_limit;
    if (isObject(r)) onlyKeys(r, ['per_second'], ['rate_limit'], issue);
    if (!isObject(r) || typeof r.per_second !== 'number' || !(r.per_second > 0)) issue(['rate_limit', 'per_second'], 'must be a positive number');
    else ratePerSecond = r.per_second;
  }
  if (issues.length > 0) throw new DevVaultConfigError(source, issues);
  return { listen, agents, credentials, policies, allowLoopback: c.allow_loopback === true, sessionTtlMs, challengeTtlMs, ratePerSecond };
}

/** `HOST:PORT` or `[v6]:PORT`. */
export function parseListen(v: unknown): { host: string; port: number } | undefined {
  if (typeof v !== 'string') return undefined;
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(v.trim());
  if (!m) return undefined;
  const host = (m[1] ?? m[2])!;
  const port = Number(m[3]);
  if (port > 65535 || (m[1] !== undefined && isIP(host) !== 6)) return undefined;
  return { host, port };
}

/** `1h`, `30s`, `500ms`, `2m`, or a number of seconds → milliseconds. */
export function parseDuration(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v > 0 ? v * 1000 : undefined;
  if (typeof v !== 'string') return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(v.trim());
  if (!m) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  const ms = Number(m[1]) * unit;
  return ms > 0 ? ms : undefined;
}

type Issue = (path: (string | number)[], msg: string) => void;

function duration(v: unknown, dflt: number, path: string[], issue: Issue): number {
  if (v === undefined) return dflt;
  const ms = parseDuration(v);
  if (ms === undefined) issue(path, 'must be a duration such as 30s, 5m or 1h');
  return ms ?? dflt;
}

function entries(v: unknown, path: string[], issue: Issue): [string, unknown][] {
  if (v === undefined || v === null) return [];
  if (!isObject(v)) {
    issue(path, 'must be a mapping');
    return [];
  }
  return Object.entries(v);
}

function onlyKeys(o: Record<string, unknown>, allowed: string[], path: (string | number)[], issue: Issue): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) issue([...path, k], `unknown key (expected one of ${allowed.join(', ')})`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

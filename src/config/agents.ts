/**
 * Gateway mode in routes.yaml: the `agents:` section and the `rate_limit:` blocks, from
 * schema-valid wire data into domain `AgentSettings` and `RateLimit`, with the rules the
 * schema cannot express (I14): unique names, unique token hashes, listed routes exist,
 * an agent can be identified (a token or its own listener), dedicated listeners do not
 * collide, and `{agent}` appears in credential paths only as a whole segment. Each
 * problem is one located issue, and checking goes on.
 */
import type { AgentSettings, HostPort, RateLimit, Route, VaultIdentity } from './types.js';
import type { Issues } from './context.js';
import { checkAddress } from './hosts.js';
import type { WireAgent, WireRateLimit, WireRoute } from './schema.js';
import type { Seg } from './yaml-doc.js';

/** The leading path segment of base-URL authentication, `/_agent/<token>/...` (src/gateway/auth.ts). */
export const AGENT_SEGMENT = '/_agent';

/** sha256 of the empty string: a "token" every client can present. */
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

const PER_MS = { second: 1000, minute: 60_000 } as const;

/** `rate_limit:` into a domain RateLimit; undefined when absent. */
export function convertRateLimit(issues: Issues, at: readonly Seg[], w: WireRateLimit | undefined): RateLimit | undefined {
  if (w === undefined) return undefined;
  if (w.requests === undefined) {
    if (w.per !== undefined || w.burst !== undefined) issues.add([...at, 'requests'], '`requests` is required with `per` or `burst` (e.g. requests: 10, per: second)');
    else if (w.max_streams === undefined) issues.add(at, 'a rate_limit needs `requests` and `per`, `max_streams`, or both');
    return w.max_streams === undefined ? undefined : { bucket: undefined, maxStreams: w.max_streams };
  }
  if (w.per === undefined) {
    issues.add([...at, 'per'], '`per` is required with `requests`: second or minute');
    return undefined;
  }
  const bucket = { requests: w.requests, perMs: PER_MS[w.per], burst: w.burst ?? w.requests };
  return { bucket, maxStreams: w.max_streams };
}

/**
 * A credential path may name the calling agent as one whole segment, `openai/{agent}`;
 * any other brace is a typo that would otherwise reach the vault literally.
 */
export function checkCredentialTemplate(issues: Issues, at: readonly Seg[], credential: string): void {
  if (!credential.includes('{') && !credential.includes('}')) return;
  for (const seg of credential.split('/')) {
    if ((seg.includes('{') || seg.includes('}')) && seg !== '{agent}') {
      issues.add(at, `{agent} must be a whole path segment (e.g. openai/{agent}/api-key); "${seg}" is not`);
      return;
    }
  }
}

function addrKey(hp: HostPort): string {
  return `${hp.host}:${hp.port}`;
}

function convertAgent(issues: Issues, w: WireAgent, index: number, routeNames: ReadonlySet<string>, expand: (p: string) => string): AgentSettings {
  const at: Seg[] = ['agents', index];
  const routes: string[] = [];
  w.routes.forEach((name, j) => {
    if (routes.includes(name)) issues.add([...at, 'routes', j], `route ${name} is listed twice`);
    else if (!routeNames.has(name)) {
      const known = [...routeNames].join(', ') || 'none are defined';
      issues.add([...at, 'routes', j], `no route is named ${issues.shown([...at, 'routes', j], name)} (routes: ${known})`);
    } else routes.push(name);
  });
  const token = w.token_sha256?.toLowerCase();
  let listen: HostPort | undefined;
  if (w.listen !== undefined) {
    const checked = checkAddress(w.listen, true);
    if (checked.ok) listen = checked.value;
    else issues.add([...at, 'listen'], checked.message);
  }
  if (token === undefined && w.listen === undefined) {
    issues.add(at, `agent ${w.name} needs token_sha256 (the sha256 of its proxy token) or a dedicated listen address, or it cannot be identified`);
  }
  const vault: VaultIdentity | undefined =
    w.vault === undefined ? undefined : { agent: w.vault.agent, keyFile: expand(w.vault.key_file), passphraseEnv: w.vault.passphrase_env };
  return {
    name: w.name,
    tokenSha256: token,
    vault,
    routes,
    placeholders: [...new Set(w.placeholders ?? [])],
    listen,
    rateLimit: convertRateLimit(issues, [...at, 'rate_limit'], w.rate_limit),
    line: issues.line(at),
  };
}

/**
 * Convert `agents:`. `ok(index)` says whether the schema accepted that agent; `wireRoutes`
 * are the routes as written (an agent may list a route that has problems of its own
 * without a second, misleading "no such route"). `listen`/`admin` are the sidecar's own
 * addresses, which a dedicated listener may not reuse.
 */
export function convertAgents(
  issues: Issues,
  wire: readonly WireAgent[] | undefined,
  ok: (index: number) => boolean,
  wireRoutes: readonly WireRoute[],
  routes: readonly Route[],
  own: { listen: HostPort; admin: HostPort | undefined },
  expand: (p: string) => string,
): AgentSettings[] {
  if (wire === undefined) return [];
  if (wire.length === 0) {
    issues.add(['agents'], 'agents: is empty; list at least one agent, or remove the section for a single-agent sidecar');
    return [];
  }
  const routeNames = new Set(wireRoutes.map((r) => r?.name).filter((n): n is string => typeof n === 'string'));
  const agents: AgentSettings[] = [];
  const names = new Map<string, number>();
  const tokens = new Map<string, number>();
  const listens = new Map<string, string>([[addrKey(own.listen), 'the main listen address']]);
  if (own.admin !== undefined) listens.set(addrKey(own.admin), 'the admin address');
  wire.forEach((w, index) => {
    // Names and token hashes are compared on the wire data, so a duplicate is reported even beside other problems.
    const name = typeof w?.name === 'string' ? w.name : undefined;
    const first = name === undefined ? undefined : names.get(name);
    if (first !== undefined) issues.add(['agents', index, 'name'], `duplicate agent name ${name} (first used by agents[${first}] on line ${issues.line(['agents', first]) ?? '?'})`);
    else if (name !== undefined) names.set(name, index);
    const token = typeof w?.token_sha256 === 'string' ? w.token_sha256.toLowerCase() : undefined;
    const same = token === undefined ? undefined : tokens.get(token);
    if (token === EMPTY_SHA256) issues.add(['agents', index, 'token_sha256'], 'this is the sha256 of the empty string: any client could present it; hash a real token');
    else if (same !== undefined) issues.add(['agents', index, 'token_sha256'], `agents[${same}] has the same token hash: each agent needs its own proxy token`);
    else if (token !== undefined) tokens.set(token, index);
    if (!ok(index)) return;
    const a = convertAgent(issues, w, index, routeNames, expand);
    if (a.listen !== undefined && a.listen.port !== 0) {
      const taken = listens.get(addrKey(a.listen));
      if (taken !== undefined) issues.add(['agents', index, 'listen'], `${addrKey(a.listen)} is already ${taken}`);
      else listens.set(addrKey(a.listen), `agent ${a.name}'s listener`);
    }
    agents.push(a);
  });
  // `/_agent/<token>` is stripped before prefix matching; a route there could never be reached.
  routes.forEach((r) => {
    if (r.prefix === AGENT_SEGMENT || r.prefix?.startsWith(`${AGENT_SEGMENT}/`)) {
      const index = wireRoutes.findIndex((w) => w?.name === r.name);
      issues.add(['routes', index, 'prefix'], `${AGENT_SEGMENT} is reserved in gateway mode for path-segment authentication (/_agent/<token>/...)`);
    }
  });
  return agents;
}

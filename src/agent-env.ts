/**
 * The environment an agent needs to send every client through the sidecar: which
 * variables, with which values, in which order, each section with a comment saying
 * why. A pure function of the configuration and a few options; `sanctum-sidecar env`
 * prints it as shell `export` lines, and the Helm chart sets the same variables.
 *
 *  - proxy: HTTP_PROXY/HTTPS_PROXY in both cases (curl reads only lowercase
 *    `http_proxy`), NO_PROXY (base-URL calls go to the sidecar itself), and
 *    NODE_USE_ENV_PROXY=1, without which Node's own `fetch` and `http` ignore the
 *    proxy variables (Node >= 24; older Node ignores it too, and needs a dispatcher);
 *  - the interception CA when `tls.ca_dir` is set: NODE_EXTRA_CA_CERTS adds ca.crt to
 *    Node's roots; every variable that REPLACES a client's trust store (Python, curl,
 *    git, AWS SDKs, OpenSSL-based tools, Go) names ca-bundle.crt (public roots + CA);
 *  - a base URL per prefix route and a placeholder key per credential route (SDKs
 *    refuse an empty key; the sidecar replaces whatever the agent sends).
 *
 * Gateway mode (`agents:`), for one agent: its proxy URL carries its name and token
 * (`http://NAME:${VAR}@host:port`, sent as Proxy-Authorization: Basic). The token is
 * never printed: the value holds a shell reference to the variable that has it, which
 * the shell expands when the lines are sourced. An agent with a dedicated listener is
 * given that listener instead, without a token.
 */
import { join, resolve } from 'node:path';
import { KNOWN_APIS } from './config/known-apis.js';
import type { AgentSettings, Config, HostPort, Route } from './config/types.js';
import { hostForUrl } from './routing/host.js';
import { CA_BUNDLE_FILE, CA_CERT_FILE } from './tls/ca.js';

/** One variable; `comment` (when set) introduces it, and with it the section it opens. */
export interface EnvVar {
  readonly name: string;
  readonly value: string;
  readonly comment?: string;
  /** Names of environment variables that `value` references as `${NAME}` (to be expanded where it is used). */
  readonly refs?: readonly string[];
}

export interface AgentEnvOptions {
  /** `http://host:port` agents use to reach the sidecar (default: `listen`, a wildcard bind read as loopback). */
  readonly proxyUrl?: string;
  /** Where the agent finds the CA directory (default: `tls.ca_dir`). */
  readonly caPath?: string;
  /** false: ca-bundle.crt is missing, so the replacing variables fall back to ca.crt (with a warning comment). */
  readonly bundleExists?: boolean;
  /** Gateway mode: the agent whose environment this is. */
  readonly agent?: string;
  /** Gateway mode: the variable that holds the agent's proxy token (default SANCTUM_SIDECAR_PROXY_TOKEN). */
  readonly tokenEnv?: string;
}

export const PLACEHOLDER_KEY = 'sk-sanctum-placeholder';
/** The chart reads an agent's proxy token from a Secret into this variable, so `env` defaults to it too. */
export const DEFAULT_TOKEN_ENV = 'SANCTUM_SIDECAR_PROXY_TOKEN';

/** Variables that add the CA to a client's roots (Node). */
export const CA_ADD_VARS = ['NODE_EXTRA_CA_CERTS'] as const;
/**
 * Variables that REPLACE a client's trust store, so they name the bundle: Python
 * requests, OpenSSL-based tools, httpx and Go (SSL_CERT_FILE), curl, git, AWS SDKs.
 */
export const CA_REPLACE_VARS = ['REQUESTS_CA_BUNDLE', 'SSL_CERT_FILE', 'CURL_CA_BUNDLE', 'GIT_SSL_CAINFO', 'AWS_CA_BUNDLE'] as const;

/** What well-known SDKs read, keyed by the API host: derived from the one table of well-known APIs (config/known-apis). */
export const KNOWN_SDKS: Record<string, { baseUrlVar?: string; basePath?: string; keyVars: readonly string[] }> = Object.fromEntries(
  [...KNOWN_APIS].flatMap(([host, api]) => (api.sdk === undefined ? [] : [[host, api.sdk]])),
);

/** A bad `--agent` or `--token-env`; the message says what to pass instead. */
export class AgentEnvError extends Error {}

/** `openai-prod` → `OPENAI_PROD`. */
function envName(route: string): string {
  return route.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

function sdkFor(r: Route): (typeof KNOWN_SDKS)[string] | undefined {
  return KNOWN_SDKS[r.match.host ?? ''] ?? KNOWN_SDKS[r.upstream.host];
}

/** `http://host:port` of a listen address, with a wildcard bind read as loopback. */
function urlOf(hp: HostPort, what: string): string {
  if (hp.port === 0) throw new AgentEnvError(`${what} port is 0 (chosen at start-up); pass --proxy-url`);
  const h = hp.host === '0.0.0.0' ? '127.0.0.1' : hp.host === '::' ? '::1' : hp.host;
  return `http://${hostForUrl(h)}:${hp.port}`;
}

/** How one gateway agent reaches the sidecar. */
interface Caller {
  readonly agent: AgentSettings;
  /** The variable holding its token, or null on its dedicated listener. */
  readonly tokenEnv: string | null;
}

function callerOf(config: Config, opts: AgentEnvOptions): Caller | null {
  if (opts.agent === undefined) {
    if (opts.tokenEnv !== undefined) throw new AgentEnvError('--token-env needs --agent NAME');
    return null;
  }
  if (config.agents.length === 0) throw new AgentEnvError(`--agent ${opts.agent}: ${config.source} has no agents: (not gateway mode)`);
  const agent = config.agents.find((a) => a.name === opts.agent);
  if (agent === undefined) {
    throw new AgentEnvError(`--agent ${opts.agent}: no such agent in ${config.source} (agents: ${config.agents.map((a) => a.name).join(', ')})`);
  }
  const tokenEnv = opts.tokenEnv ?? DEFAULT_TOKEN_ENV;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(tokenEnv)) throw new AgentEnvError(`--token-env ${tokenEnv}: not an environment variable name`);
  // Its own listener identifies it without a token, unless it is reached elsewhere (--proxy-url) and has one.
  const onListener = agent.listen !== undefined && (opts.proxyUrl === undefined || agent.tokenSha256 === undefined);
  return { agent, tokenEnv: onListener ? null : tokenEnv };
}

/** The agent's variables, in order (pure: no file system, no process environment). */
export function agentEnv(config: Config, opts: AgentEnvOptions = {}): EnvVar[] {
  const caller = callerOf(config, opts);
  const base = caller?.tokenEnv === null ? (opts.proxyUrl ?? urlOf(caller.agent.listen!, `agent ${caller.agent.name}'s listen`)) : (opts.proxyUrl ?? urlOf(config.listen, 'listen'));
  const out: EnvVar[] = [];
  const seen = new Set<string>();
  let pending: string | undefined;
  const section = (comment: string): void => {
    pending = pending === undefined ? comment : `${pending}\n${comment}`;
  };
  const put = (name: string, value: string, refs?: readonly string[]): void => {
    if (seen.has(name)) return;
    seen.add(name);
    out.push({ name, value, ...(pending === undefined ? {} : { comment: pending }), ...(refs === undefined ? {} : { refs }) });
    pending = undefined;
  };

  // Proxy URL: in gateway mode with a token, the agent's name and a reference to its token as userinfo.
  const tokenRef = caller?.tokenEnv != null ? `\${${caller.tokenEnv}}` : null;
  const refs = caller?.tokenEnv != null ? [caller.tokenEnv] : undefined;
  const proxy = tokenRef === null ? base : base.replace('http://', `http://${caller!.agent.name}:${tokenRef}@`);
  if (config.agents.length > 0 && caller === null) {
    section('Gateway mode: every agent authenticates. Pass --agent NAME (and --token-env VAR) for a proxy URL that');
    section('carries its name and token, or give it a dedicated listen: address in routes.yaml.');
  } else if (caller !== null) {
    section(
      caller.tokenEnv === null
        ? `Gateway mode, agent ${caller.agent.name}: its dedicated listener identifies it (no token).`
        : `Gateway mode, agent ${caller.agent.name}: the proxy URLs carry its name and token; ${caller.tokenEnv} must hold the token when these lines are sourced (it is not printed).`,
    );
  }
  section('Proxy: both cases, because curl reads only the lowercase http_proxy.');
  for (const n of ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy']) put(n, proxy, refs);
  section("Node's own fetch and http ignore the proxy variables without this (Node >= 24).");
  put('NODE_USE_ENV_PROXY', '1');
  const noProxy = ['localhost', '127.0.0.1', '::1'];
  const proxyHost = new URL(base).hostname.replace(/^\[|\]$/g, '');
  if (!noProxy.includes(proxyHost)) noProxy.push(proxyHost);
  section('Base-URL calls go to the sidecar itself, not through it.');
  put('NO_PROXY', noProxy.join(','));
  put('no_proxy', noProxy.join(','));

  const caDir = opts.caPath ?? (config.tls.caDir === undefined ? undefined : resolve(config.tls.caDir));
  if (caDir === undefined) {
    section('TLS interception is off (no tls.ca_dir): call https:// credential routes through their base URLs.');
  } else {
    const bundle = opts.bundleExists === false ? join(caDir, CA_CERT_FILE) : join(caDir, CA_BUNDLE_FILE);
    section('The interception CA: agents trust it so https:// credential routes can be intercepted.');
    for (const n of CA_ADD_VARS) put(n, join(caDir, CA_CERT_FILE));
    section('The variables below REPLACE the trust store of their clients (Python, OpenSSL, Go, curl, git, AWS SDKs)');
    section(
      opts.bundleExists === false
        ? 'rather than adding to it, and ca-bundle.crt was not found: with ca.crt alone, only intercepted hosts verify (re-run `ca init` or build a bundle).'
        : 'rather than adding to it, so they name ca-bundle.crt (the public roots plus the CA), not ca.crt alone.',
    );
    for (const n of CA_REPLACE_VARS) put(n, bundle);
  }

  const usable = caller === null ? config.routes : config.routes.filter((r) => caller.agent.routes.includes(r.name));
  const prefixed = usable.filter((r) => r.prefix !== undefined);
  // Base URLs carry the token as a path segment (`/_agent/<token>`): SDKs with a base URL send no Proxy-Authorization.
  const baseUrl = tokenRef === null ? base : `${base}/_agent/${tokenRef}`;
  if (prefixed.length > 0) section('Base URLs (base-URL mode, no proxy needed).');
  for (const r of prefixed) {
    const sdk = sdkFor(r);
    const sdkPath = sdk?.basePath ?? '';
    const suffix = sdkPath.startsWith(r.upstream.basePath) ? sdkPath.slice(r.upstream.basePath.length) : sdkPath;
    const url = `${baseUrl}${r.prefix}${suffix}`;
    put(`${envName(r.name)}_BASE_URL`, url, refs);
    if (sdk?.baseUrlVar !== undefined) put(sdk.baseUrlVar, url, refs);
  }
  // Gateway agents get their own placeholder, so the tripwires recognise it wherever it goes.
  const placeholder = caller?.agent.placeholders[0] ?? PLACEHOLDER_KEY;
  const credentialed = usable.filter((r) => r.credential !== null);
  if (credentialed.length > 0) section('Placeholder keys: SDKs refuse an empty key; the sidecar replaces them with the real credential.');
  for (const r of credentialed) {
    put(`${envName(r.name)}_API_KEY`, placeholder);
    for (const k of sdkFor(r)?.keyVars ?? []) put(k, placeholder);
  }
  return out;
}

/**
 * What `sanctum-sidecar check` prints: a redacted, human summary of a loaded config,
 * and lint warnings for settings that are valid but risky. The domain config holds no
 * secrets (credentials are vault paths, the vault key is a file path), but values that
 * came from the environment under a secret-sounding name are still shown as
 * "[from environment]", so a `check` run in CI can never echo one.
 */
import { formatDuration } from './duration.js';
import { formatBytes } from './size.js';
import { lintKnownApis } from './known-apis.js';
import { allowEntryText } from './hosts.js';
import type { AgentSettings, Config, HostPort, RateLimit, Route } from './types.js';
import { describeUpstreamProxy, lintUpstreamProxy } from './upstream-proxy-summary.js';

/**
 * Names that suggest a secret value; file paths and env-var names are not values.
 * `credential` is on the list because the likeliest accident is `credential: ${OPENAI_API_KEY}`,
 * the key itself where its vault path belongs.
 */
const SECRETISH = /(secret|token|password|passphrase|apikey|api_key|credential|(^|[._])key$)/i;
const NOT_A_VALUE = /(_file|_dir|_env)$/;

function addr(hp: HostPort): string {
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

/** A value for display: redacted when it came from `${VAR}` and its YAML name sounds secret. */
function shown(c: Config, yamlPath: string, value: string): string {
  const last = yamlPath.split('.').pop() ?? '';
  if (c.envPaths?.includes(yamlPath) && SECRETISH.test(last) && !NOT_A_VALUE.test(last)) return '[from environment]';
  return value;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

function describeLimit(l: RateLimit): string {
  const b = l.bucket;
  const rate = b === undefined ? [] : [`${b.requests}/${b.perMs === 1000 ? 's' : 'min'} (burst ${b.burst})`];
  return [...rate, ...(l.maxStreams === undefined ? [] : [`${l.maxStreams} streams`])].join(', ');
}

function describeAgent(a: AgentSettings): string {
  const auth = [a.tokenSha256 !== undefined ? 'proxy token' : '', a.listen !== undefined ? `own listener ${addr(a.listen)}` : ''].filter(Boolean).join(' or ');
  const vault = a.vault === undefined ? 'top-level vault identity' : `vault identity ${a.vault.agent} (key file ${a.vault.keyFile})`;
  const extra = [
    a.rateLimit !== undefined ? `rate limit ${describeLimit(a.rateLimit)}` : '',
    a.placeholders.length > 0 ? `${a.placeholders.length} placeholder(s) watched` : '',
  ].filter(Boolean);
  return `  ${a.name}: routes ${a.routes.join(', ') || '(none)'}; ${auth}; ${vault}${extra.length ? `; ${extra.join('; ')}` : ''}`;
}

function describeRoute(c: Config, r: Route, i: number): string[] {
  const m = r.match;
  const reach: string[] = [];
  if (m.host !== undefined) reach.push(`host ${m.host}${m.ports.length > 0 ? ` port ${m.ports.join(', ')}` : ''}`);
  if (r.prefix !== undefined) reach.push(`prefix ${r.prefix}`);
  const paths = m.paths.length === 0 ? 'any path' : m.paths.join(', ');
  const methods = m.methods.length === 0 ? 'any method' : m.methods.join(', ');
  const header = r.inject.headerType === 'custom' ? `custom ${r.inject.headerName ?? ''}` : r.inject.headerType;
  const cred =
    r.credential === null ? 'no credential' : `credential ${shown(c, `routes[${i}].credential`, r.credential)} (${r.mode}, ${header})`;
  const flags = [
    r.cacheTtlMs > 0 ? `cache ${formatDuration(r.cacheTtlMs)}` : '',
    r.allowPlaintext ? 'plaintext allowed' : '',
    r.allowWildcardHost ? 'wildcard host' : '',
    r.keepCookies ? 'keeps cookies' : '',
    r.mode === 'delegate' ? `max body ${formatBytes(r.maxBodyBytes)}` : '',
    r.rateLimit !== undefined ? `rate limit ${describeLimit(r.rateLimit)}` : '',
    r.retryNonIdempotent ? 'retries non-idempotent methods' : '',
    r.credential !== null && r.mode === 'inject' ? `response guard ${r.responseGuard}` : '',
    r.keepForwardingHeaders ? 'keeps forwarding headers' : '',
    r.headers.set.length > 0 ? `sets ${r.headers.set.map(([n]) => n).join(', ')}` : '',
    r.headers.remove.length > 0 ? `removes ${r.headers.remove.join(', ')}` : '',
  ].filter(Boolean);
  return [
    `  ${r.name}: ${reach.join(' + ')}; ${paths}; ${methods}`,
    `    -> ${r.upstream.origin}${r.upstream.basePath}; ${cred}${flags.length ? `; ${flags.join(', ')}` : ''}`,
  ];
}

/** A redacted multi-line summary of the config for `check`. */
export function summarizeConfig(c: Config): string {
  const v = c.vault;
  const via = v.tcp !== undefined ? `tcp ${shown(c, 'vault.tcp', addr(v.tcp))}` : `socket ${v.socket ?? '?'}`;
  const e = c.egress;
  const l = c.limits;
  const t = c.timeouts;
  const lines = [
    `${c.source}: version ${c.version}, config hash ${c.hash}`,
    `listen ${addr(c.listen)}; admin ${c.admin ? addr(c.admin) : 'off'}`,
    `vault: agent ${v.agent} via ${via}; key file ${v.keyFile}${v.passphraseEnv ? ` (passphrase from $${v.passphraseEnv})` : ''}; timeout ${formatDuration(v.timeoutMs)}`,
    `egress: unmatched ${e.unmatched}; allow ${e.allow.length ? e.allow.map(allowEntryText).join(', ') : '(none)'}; private addresses ${e.blockPrivateAddresses ? 'blocked' : 'ALLOWED'}; host-header form ${e.hostHeaderForm ? 'on' : 'off'}`,
    ...[describeUpstreamProxy(c)].filter((x): x is string => x !== null), // README "Corporate proxy"
    `tls: interception CA ${c.tls.caDir ?? '(not configured)'}; extra upstream CA ${c.tls.upstreamCaFile ?? '(none)'}`,
    `limits: headers ${formatDuration(l.headersTimeoutMs)}, request ${l.requestTimeoutMs === 0 ? 'none' : formatDuration(l.requestTimeoutMs)}, keep-alive ${formatDuration(l.keepAliveTimeoutMs)}, ` +
      `max header ${formatBytes(l.maxHeaderBytes)}, max connections ${l.maxConnections}, shutdown ${formatDuration(l.shutdownTimeoutMs)}` +
      (l.drainDelayMs > 0 ? ` after a drain delay of ${formatDuration(l.drainDelayMs)}` : '') +
      `, retry buffer ${formatBytes(l.retryBufferBytes)}`,
    `timeouts: passthrough connect ${formatDuration(t.passthrough.connectMs)}, headers ${formatDuration(t.passthrough.headersMs)}, idle ${formatDuration(t.passthrough.idleMs)}; ` +
      `tunnel connect ${formatDuration(t.tunnelConnectMs)}, idle ${formatDuration(t.tunnelIdleMs)}; websocket idle ${formatDuration(t.websocketIdleMs)}; TLS handshake ${formatDuration(t.tlsHandshakeMs)}`,
    `routes (${c.routes.length}):`,
    ...c.routes.flatMap((r, i) => describeRoute(c, r, i)),
  ];
  if (c.routes.length === 0) lines.push('  (none)');
  if (c.agents.length > 0) lines.push(`agents (${c.agents.length}, gateway mode):`, ...c.agents.map(describeAgent));
  return lines.join('\n');
}

function coveredBy(pattern: string, host: string): boolean {
  return pattern === host || (pattern.startsWith('*.') && host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1);
}

/** Warnings for valid but risky settings; each names the setting and why it matters. */
export function lintConfig(c: Config): string[] {
  const w: string[] = [];
  // In gateway mode every request on the main listener must present an agent's token (I14).
  if (!isLoopback(c.listen.host) && c.agents.length === 0) w.push(`listen ${addr(c.listen)} is not loopback: any host that can reach it can use the credentials (I12)`);
  for (const a of c.agents) {
    if (a.listen !== undefined && !isLoopback(a.listen.host)) {
      w.push(`agent ${a.name}: listen ${addr(a.listen)} is not loopback: anyone who can reach it acts as ${a.name}, without a token`);
    }
  }
  if (c.admin && !isLoopback(c.admin.host)) {
    w.push(
      c.adminDetail
        ? `admin ${addr(c.admin)} is not loopback and admin_detail is true: /routes and /explain describe agents, routes and vault paths to anyone who reaches it`
        : `admin ${addr(c.admin)} is not loopback: /metrics is reachable from outside (/routes and /explain are off; admin_detail: true turns them on)`,
    );
  }
  if (c.vault.tcp !== undefined) {
    w.push('vault.tcp: the vault is reached over TCP; prefer vault.socket (a TCP port in a shared pod can be squatted, I12)');
  }
  if (c.egress.unmatched === 'passthrough') w.push('egress.unmatched: passthrough lets the agent reach any host without a route (without credentials)');
  if (!c.egress.blockPrivateAddresses) w.push('egress.block_private_addresses: false lets passthrough and tunnels reach private, loopback and metadata addresses');
  if (c.egress.hostHeaderForm) w.push('egress.host_header_form: on; origin-form requests are routed by their Host header (only for agents whose DNS points API hosts here)');
  w.push(...lintUpstreamProxy(c)); // README "Corporate proxy"
  for (const entry of c.egress.allow) {
    const a = entry.host;
    const shownEntry = allowEntryText(entry);
    if (a.startsWith('*.')) w.push(`egress.allow ${shownEntry}: a wildcard lets every subdomain through`);
    const routed = c.routes.find((r) => r.match.host !== undefined && (coveredBy(a, r.match.host) || coveredBy(r.match.host, a)));
    if (routed) w.push(`egress.allow ${shownEntry}: hosts covered by route ${routed.name} are matched by the route, never passed through`);
  }
  for (const r of c.routes) {
    const name = `route ${r.name}`;
    if (r.upstream.scheme === 'http' && r.credential !== null) {
      w.push(`${name}: the credential travels over plain http to ${r.upstream.origin} (allow_plaintext: true)`);
    } else if (r.allowPlaintext && r.upstream.scheme === 'https') {
      w.push(`${name}: allow_plaintext has no effect (the upstream is https)`);
    }
    if (r.match.host?.startsWith('*.')) w.push(`${name}: wildcard host ${r.match.host} (every subdomain reaches ${r.upstream.origin})`);
    if (r.cacheTtlMs > 0) {
      w.push(
        r.mode === 'delegate'
          ? `${name}: cache_ttl has no effect in delegate mode (the sidecar never holds the secret)`
          : `${name}: cache_ttl ${formatDuration(r.cacheTtlMs)} keeps the credential in sidecar memory between requests`,
      );
    }
    if (r.keepCookies && r.credential !== null) {
      w.push(`${name}: keep_cookies forwards the agent's cookies along with the credential, and the upstream's Set-Cookie back to the agent`);
    }
    if (r.credential !== null && r.mode === 'inject' && r.responseGuard === 'off') {
      w.push(`${name}: response_guard: off; an upstream that echoes the injected credential hands it to the agent`);
    }
    if (r.credential === null && r.inject.headerType !== 'bearer') w.push(`${name}: inject has no effect without a credential`);
    if (c.agents.length === 0 && r.credential?.includes('{agent}')) {
      w.push(`${name}: without agents:, {agent} in the credential path is vault.agent (${c.vault.agent})`);
    }
    if (c.envPaths?.includes(`routes[${c.routes.indexOf(r)}].credential`)) {
      w.push(`${name}: credential comes from the environment; it must be a vault path (e.g. openai/api-key), never the secret itself`);
    }
    if (r.match.host !== undefined && r.upstream.host !== r.match.host && r.credential !== null && !r.match.host.startsWith('*.')) {
      w.push(`${name}: requests for ${r.match.host} are sent to a different host, ${r.upstream.host}`);
    }
  }
  w.push(...lintKnownApis(c));
  return w;
}

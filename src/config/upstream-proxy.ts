/**
 * `egress.upstream_proxy` (a corporate forward proxy the sidecar chains to), its
 * `no_proxy` list and its credential, from the wire shape into `UpstreamProxySettings`.
 *
 * The setting is a URL (`http://proxy.corp:3128`), `env` (the sidecar's own
 * HTTPS_PROXY / HTTP_PROXY / NO_PROXY, read only when asked for: I7 forbids building
 * the upstream path implicitly from inherited proxy variables), or absent. The same
 * derivation runs for routes.yaml and for the SANCTUM_SIDECAR_UPSTREAM_PROXY override,
 * so both obey the same rules. A credential in a configured URL is refused (it would
 * sit in a ConfigMap); it belongs in the vault or an environment variable. Messages
 * never echo environment values: proxy URLs there often carry a password.
 *
 * Also the rule that a plain-http credential route may go through the proxy only
 * with `allow_plaintext_via_proxy: true`: the proxy would read the credential.
 */
import { HostSyntaxError, parseAuthority } from '../routing/host.js';
import { bypassesProxy, parseNoProxyEntry } from '../routing/no-proxy.js';
import type { Issues } from './context.js';
import type { WireEgress } from './schema.js';
import type { NoProxyEntry, ProxyCredential, ProxyEndpoint, Route, UpstreamProxySettings } from './types.js';

/** A problem with the effective settings, keyed by the YAML field it belongs to. */
export interface ProxyProblem {
  readonly field: 'upstream_proxy' | 'upstream_proxy_credential_env';
  readonly message: string;
}

type Parsed = { ok: true; host: string; port: number; userinfo: string | undefined } | { ok: false; message: string };

/**
 * `http://host:port[/]`. `fromEnv`: a value from HTTPS_PROXY and friends, where a missing
 * scheme means http (as curl and Go read them) and user:pass is accepted.
 */
export function parseProxyUrl(raw: string, fromEnv: boolean): Parsed {
  let text = raw.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text);
  if (scheme === null) {
    if (!fromEnv) return { ok: false, message: 'must be an http:// URL with a port (e.g. http://proxy.corp:3128), or env' };
    text = `http://${text}`;
  } else if (scheme[1]!.toLowerCase() !== 'http') {
    return {
      ok: false,
      message: `${scheme[1]!.toLowerCase()}:// proxies are not supported: give the proxy's plain http:// address (TLS to https upstreams stays end to end through CONNECT)`,
    };
  }
  let rest = text.slice(text.indexOf('://') + 3);
  if (rest.endsWith('/')) rest = rest.slice(0, -1);
  if (/[/?#]/.test(rest)) return { ok: false, message: 'must be http://host:port without a path, query or fragment' };
  let userinfo: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    if (!fromEnv) {
      return {
        ok: false,
        message:
          'must not carry user:pass (it would sit in plain config): put the proxy credential in the vault (egress.upstream_proxy_credential) or an environment variable (egress.upstream_proxy_credential_env)',
      };
    }
    userinfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
    if (!/^[^:]*:/.test(userinfo) || !decodable(userinfo)) return { ok: false, message: 'has a user:pass part that is not percent-encoded user:password' };
  }
  try {
    const { host, port } = parseAuthority(rest, undefined);
    return { ok: true, host, port, userinfo };
  } catch (err) {
    if (!(err instanceof HostSyntaxError)) throw err;
    const hint = /port is required/.test(err.message) ? 'give the port, as in http://proxy.corp:3128' : err.message;
    return { ok: false, message: `is not a valid proxy address: ${hint}` };
  }
}

function decodable(s: string): boolean {
  try {
    decodeURIComponent(s);
    return true;
  } catch {
    return false;
  }
}

/** The first non-empty of the variables (upper case first, as Go reads them), with its name. */
function pick(env: NodeJS.ProcessEnv, names: readonly string[]): { name: string; value: string } | undefined {
  for (const name of names) {
    const value = env[name];
    if (value !== undefined && value.trim() !== '') return { name, value };
  }
  return undefined;
}

/**
 * Derive the effective proxies. `setting` is undefined/`off` (none), `env`, or a URL;
 * `settingFrom` names where it came from in messages. Problems are returned, not thrown.
 */
export function effectiveUpstreamProxy(
  setting: string | undefined,
  settingFrom: string,
  configuredNoProxy: readonly NoProxyEntry[],
  configuredCredential: ProxyCredential | undefined,
  env: NodeJS.ProcessEnv,
): { value: UpstreamProxySettings; problems: ProxyProblem[] } {
  const problems: ProxyProblem[] = [];
  const normalized = setting === undefined || setting.trim().toLowerCase() === 'off' ? undefined : setting.trim();
  const base = { setting: normalized, settingFrom, configuredNoProxy, configuredCredential };
  const none = { ...base, https: undefined, http: undefined, noProxy: configuredNoProxy };
  if (configuredCredential?.kind === 'env') {
    const v = env[configuredCredential.variable];
    if (v === undefined || v === '') {
      problems.push({ field: 'upstream_proxy_credential_env', message: `names ${configuredCredential.variable}, which is not set in the sidecar's environment` });
    } else if (!v.includes(':')) {
      problems.push({ field: 'upstream_proxy_credential_env', message: `${configuredCredential.variable} must hold user:password (the value was not shown)` });
    }
  }
  if (normalized === undefined) return { value: none, problems };
  if (normalized.toLowerCase() !== 'env') {
    const p = parseProxyUrl(normalized, false);
    if (!p.ok) {
      problems.push({ field: 'upstream_proxy', message: `${settingFrom} ${p.message}` });
      return { value: none, problems };
    }
    const ep: ProxyEndpoint = { host: p.host, port: p.port, from: settingFrom, credential: configuredCredential };
    return { value: { ...base, https: ep, http: ep, noProxy: configuredNoProxy }, problems };
  }
  // `env`: the sidecar's own variables, read because the file asked for them.
  const endpoint = (names: readonly string[]): ProxyEndpoint | undefined => {
    const found = pick(env, names);
    if (found === undefined) return undefined;
    const p = parseProxyUrl(found.value, true);
    if (!p.ok) {
      problems.push({ field: 'upstream_proxy', message: `${found.name} (from the environment) ${p.message} (the value was not shown)` });
      return undefined;
    }
    if (p.userinfo !== undefined && configuredCredential !== undefined) {
      problems.push({
        field: 'upstream_proxy',
        message: `${found.name} carries user:pass and egress.upstream_proxy_credential${configuredCredential.kind === 'env' ? '_env' : ''} is set too: keep one`,
      });
    }
    const credential: ProxyCredential | undefined = p.userinfo !== undefined ? { kind: 'proxy_url', variable: found.name } : configuredCredential;
    return { host: p.host, port: p.port, from: found.name, credential };
  };
  const https = endpoint(['HTTPS_PROXY', 'https_proxy']);
  const http = endpoint(['HTTP_PROXY', 'http_proxy']);
  if (https === undefined && http === undefined && problems.length === 0) {
    problems.push({ field: 'upstream_proxy', message: `${settingFrom}: env, but neither HTTPS_PROXY nor HTTP_PROXY is set in the sidecar's environment` });
  }
  const noProxy = [...configuredNoProxy];
  const np = pick(env, ['NO_PROXY', 'no_proxy']);
  if (np !== undefined) {
    np.value.split(',').forEach((raw, i) => {
      if (raw.trim() === '') return;
      try {
        noProxy.push(parseNoProxyEntry(raw));
      } catch (err) {
        if (!(err instanceof HostSyntaxError)) throw err;
        problems.push({ field: 'upstream_proxy', message: `${np.name} (from the environment) entry ${i + 1}: ${err.message}` });
      }
    });
  }
  return { value: { ...base, https, http, noProxy }, problems };
}

/** `egress.upstream_proxy*` and `egress.no_proxy` of routes.yaml, reported into `issues`. */
export function convertUpstreamProxy(issues: Issues, e: WireEgress, env: NodeJS.ProcessEnv): UpstreamProxySettings | undefined {
  const configuredNoProxy: NoProxyEntry[] = [];
  (e.no_proxy ?? []).forEach((raw, i) => {
    try {
      configuredNoProxy.push(parseNoProxyEntry(raw));
    } catch (err) {
      if (!(err instanceof HostSyntaxError)) throw err;
      issues.add(['egress', 'no_proxy', i], `no_proxy entry: ${err.message} (a host, .suffix, *.suffix, IP address or CIDR such as 10.0.0.0/8)`);
    }
  });
  let credential: ProxyCredential | undefined;
  if (e.upstream_proxy_credential !== undefined && e.upstream_proxy_credential_env !== undefined) {
    issues.add(['egress', 'upstream_proxy_credential_env'], 'give either upstream_proxy_credential (a vault path) or upstream_proxy_credential_env, not both');
  } else if (e.upstream_proxy_credential !== undefined) {
    credential = { kind: 'vault', path: e.upstream_proxy_credential };
  } else if (e.upstream_proxy_credential_env !== undefined) {
    credential = { kind: 'env', variable: e.upstream_proxy_credential_env };
  }
  if (e.upstream_proxy === undefined && e.no_proxy === undefined && credential === undefined) return undefined;
  const { value, problems } = effectiveUpstreamProxy(e.upstream_proxy, 'egress.upstream_proxy', configuredNoProxy, credential, env);
  for (const p of problems) issues.add(['egress', p.field], p.message);
  return value;
}

/** The proxy a plain-http request to `host:port` goes through, or undefined when it goes direct. */
export function httpProxyFor(p: UpstreamProxySettings | undefined, host: string, port: number): ProxyEndpoint | undefined {
  if (p?.http === undefined || bypassesProxy(p.noProxy, host, port)) return undefined;
  return p.http;
}

/**
 * Plain-http credential routes that would go through the upstream proxy without
 * `allow_plaintext_via_proxy: true` (delegate routes are sent by the vault, not through it).
 */
export function plaintextViaProxy(routes: readonly Route[], p: UpstreamProxySettings | undefined): Route[] {
  return routes.filter(
    (r) =>
      r.credential !== null &&
      r.mode === 'inject' &&
      r.upstream.scheme === 'http' &&
      r.allowPlaintextViaProxy !== true &&
      httpProxyFor(p, r.upstream.host, r.upstream.port) !== undefined,
  );
}

export const PLAINTEXT_VIA_PROXY_HINT =
  'this plain-http credential route would go through the upstream proxy, which would read the credential; use an https:// upstream, list the host in egress.no_proxy, or set `allow_plaintext_via_proxy: true` on the route if the proxy may see it';

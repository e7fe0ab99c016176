/**
 * What `sanctum-sidecar env` prints: the environment an agent container needs, as
 * `export` lines for a shell or an env file:
 * the proxy variables in both cases (curl reads only lowercase `http_proxy`), NO_PROXY
 * (base-URL calls go to the sidecar directly), the CA variables when interception is
 * configured, a base URL per prefix route and a placeholder key per credential route
 * (SDKs refuse an empty key; the sidecar always replaces the placeholder).
 */
import { join, resolve } from 'node:path';
import { knownApiOfRoute } from '../config/known-apis.js';
import type { Config } from '../config/types.js';
import { hostForUrl } from '../routing/host.js';
import { CA_BUNDLE_FILE, CA_CERT_FILE } from '../tls/ca.js';

export const PLACEHOLDER_KEY = 'sk-sanctum-placeholder';

/** POSIX shell quoting, only when needed. */
export function shellQuote(v: string): string {
  return /^[A-Za-z0-9_./:,@%+=-]*$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`;
}

/** `openai-prod` → `OPENAI_PROD`. */
function envName(route: string): string {
  return route.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

/** The proxy URL agents use: the listen address, with a wildcard bind read as loopback. */
function proxyUrlOf(config: Config): string {
  const { host, port } = config.listen;
  if (port === 0) throw new Error('listen port is 0 (chosen at start-up); pass --proxy-url');
  const h = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${hostForUrl(h)}:${port}`;
}

/** Build the lines (pure, for tests): `export NAME=value` and `# comments`. */
export function renderEnv(config: Config, opts: { proxyUrl?: string; caPath?: string; bundleExists?: boolean } = {}): string[] {
  const proxy = opts.proxyUrl ?? proxyUrlOf(config);
  const out: string[] = [`# Agent environment for sanctum-sidecar (${config.source})`];
  const seen = new Set<string>();
  const put = (name: string, value: string): void => {
    if (seen.has(name)) return;
    seen.add(name);
    out.push(`export ${name}=${shellQuote(value)}`);
  };
  if (config.agents.length > 0) {
    out.push('# Gateway mode: every agent authenticates. Put its name and proxy token in the proxy URLs');
    out.push('# (http://<agent>:<token>@host:port) and after the host of base URLs (/_agent/<token>/...),');
    out.push('# or give it a dedicated listen: address in routes.yaml.');
  }
  out.push('# Proxy: both cases, because curl reads only the lowercase http_proxy.');
  for (const n of ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy']) put(n, proxy);
  const noProxy = ['localhost', '127.0.0.1', '::1'];
  const proxyHost = new URL(proxy).hostname.replace(/^\[|\]$/g, '');
  if (!noProxy.includes(proxyHost)) noProxy.push(proxyHost);
  out.push('# Base-URL calls go to the sidecar itself, not through it.');
  put('NO_PROXY', noProxy.join(','));
  put('no_proxy', noProxy.join(','));

  const caDir = opts.caPath ?? (config.tls.caDir === undefined ? undefined : resolve(config.tls.caDir));
  if (caDir === undefined) {
    out.push('# TLS interception is off (no tls.ca_dir): call https:// credential routes through their base URLs.');
  } else {
    const bundle = opts.bundleExists === false ? join(caDir, CA_CERT_FILE) : join(caDir, CA_BUNDLE_FILE);
    out.push('# The interception CA: agents trust it so https:// credential routes can be intercepted.');
    put('NODE_EXTRA_CA_CERTS', join(caDir, CA_CERT_FILE));
    out.push('# REQUESTS_CA_BUNDLE and SSL_CERT_FILE REPLACE the system trust store rather than adding to it,');
    out.push(
      opts.bundleExists === false
        ? '# and ca-bundle.crt was not found: with ca.crt alone, only intercepted hosts verify (re-run `ca init` or build a bundle).'
        : '# so they name ca-bundle.crt (the public roots plus the CA), not ca.crt alone.',
    );
    put('REQUESTS_CA_BUNDLE', bundle);
    put('SSL_CERT_FILE', bundle);
  }

  const prefixed = config.routes.filter((r) => r.prefix !== undefined);
  if (prefixed.length > 0) out.push('# Base URLs (base-URL mode, no proxy needed).');
  for (const r of prefixed) {
    const sdk = knownApiOfRoute(r)?.sdk;
    const sdkPath = sdk?.basePath ?? '';
    const suffix = sdkPath.startsWith(r.upstream.basePath) ? sdkPath.slice(r.upstream.basePath.length) : sdkPath;
    const url = `${proxy}${r.prefix}${suffix}`;
    put(`${envName(r.name)}_BASE_URL`, url);
    if (sdk?.baseUrlVar !== undefined) put(sdk.baseUrlVar, url);
  }
  const credentialed = config.routes.filter((r) => r.credential !== null);
  if (credentialed.length > 0) out.push('# Placeholder keys: SDKs refuse an empty key; the sidecar replaces them with the real credential.');
  for (const r of credentialed) {
    put(`${envName(r.name)}_API_KEY`, PLACEHOLDER_KEY);
    for (const k of knownApiOfRoute(r)?.sdk?.keyVars ?? []) put(k, PLACEHOLDER_KEY);
  }
  return out;
}

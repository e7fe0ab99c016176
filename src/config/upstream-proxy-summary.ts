/**
 * The upstream proxy in `sanctum-sidecar check`: one summary line (where the proxies
 * came from, never a credential: only where it is taken from) and the warnings for
 * settings that are valid but probably not what was meant.
 */
import { bypassesProxy, formatNoProxyEntry, isLoopbackDestination } from '../routing/no-proxy.js';
import type { Config, ProxyCredential, ProxyEndpoint } from './types.js';
import { httpProxyFor } from './upstream-proxy.js';

function credential(c: ProxyCredential | undefined): string {
  if (c === undefined) return 'no credential';
  switch (c.kind) {
    case 'vault':
      return `credential from vault path ${c.path}`;
    case 'env':
      return `credential from $${c.variable}`;
    case 'proxy_url':
      return `credential from the user:pass in $${c.variable}`;
  }
}

function endpoint(ep: ProxyEndpoint | undefined): string {
  return ep === undefined ? 'direct' : `${ep.host.includes(':') ? `[${ep.host}]` : ep.host}:${ep.port} (${ep.from}, ${credential(ep.credential)})`;
}

/** `upstream proxy: ...` for the summary, or null when none is configured at all. */
export function describeUpstreamProxy(c: Config): string | null {
  const p = c.upstreamProxy;
  if (p === undefined) return null;
  const np = p.noProxy.length === 0 ? '(none)' : p.noProxy.map(formatNoProxyEntry).join(', ');
  if (p.https === undefined && p.http === undefined) return `upstream proxy: none; no_proxy ${np}`;
  if (JSON.stringify(p.https) === JSON.stringify(p.http)) return `upstream proxy: every upstream and tunnel via ${endpoint(p.https)}; no_proxy ${np}`;
  return `upstream proxy: https upstreams and tunnels via ${endpoint(p.https)}; plain http via ${endpoint(p.http)}; no_proxy ${np}`;
}

/** Warnings about the upstream proxy settings. */
export function lintUpstreamProxy(c: Config): string[] {
  const p = c.upstreamProxy;
  const w: string[] = [];
  if (p === undefined) return w;
  const none = p.https === undefined && p.http === undefined;
  if (none && p.configuredCredential !== undefined) w.push('egress.upstream_proxy_credential has no effect without an upstream proxy (egress.upstream_proxy or SANCTUM_SIDECAR_UPSTREAM_PROXY)');
  if (none && p.configuredNoProxy.length > 0) w.push('egress.no_proxy has no effect without an upstream proxy');
  for (const r of c.routes) {
    const u = r.upstream;
    const via = u.scheme === 'https' ? p.https !== undefined && !bypassesProxy(p.noProxy, u.host, u.port) : httpProxyFor(p, u.host, u.port) !== undefined;
    if (r.mode === 'delegate') {
      if (!none) w.push(`route ${r.name}: delegate mode: the vault makes this request, so the upstream proxy does not apply to it`);
      continue;
    }
    if (via && isLoopbackDestination(u.host)) {
      w.push(`route ${r.name}: upstream ${u.origin} is loopback but goes through the upstream proxy, whose loopback is not the sidecar's; add it to egress.no_proxy`);
    }
    if (via && u.scheme === 'http' && r.credential !== null) w.push(`route ${r.name}: the upstream proxy reads the credential on this plain-http route (allow_plaintext_via_proxy: true)`);
    if (r.allowPlaintextViaProxy === true && !(via && u.scheme === 'http')) w.push(`route ${r.name}: allow_plaintext_via_proxy has no effect (the route does not send plain http through the upstream proxy)`);
  }
  return w;
}

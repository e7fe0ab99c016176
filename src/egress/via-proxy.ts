/**
 * The address gate (I8) for destinations reached through the upstream proxy, and the
 * dial of CONNECT byte tunnels (direct or through the proxy).
 *
 * Through a proxy the sidecar never dials the destination; the proxy resolves and
 * connects. What the sidecar can still check, it checks, before anything is sent:
 *   - an IP literal: checked like any destination (metadata, private, loopback... refused);
 *   - a name that resolves here: every address checked, one bad address refuses it;
 *   - a name that does not resolve here (only the proxy's DNS knows it, the usual case
 *     behind a corporate proxy): allowed, because it got this far only by being named
 *     (a route, an `egress.allow` entry, or `unmatched: passthrough`). The proxy's
 *     own policy then decides, and the sidecar's gate cannot see what it resolves to.
 * The proxy is sent the name, not the address checked here: corporate proxies decide
 * by name, and TLS to the destination is verified against the name anyway.
 */
import { lookup } from 'node:dns/promises';
import { isIP, type Socket } from 'node:net';
import { checkDestination, type GateOptions } from './address-gate.js';
import { dialChecked } from './dial.js';
import type { UpstreamProxy } from './upstream-proxy.js';

type Resolved = ReadonlyArray<{ address: string; family: number }>;

/** Resolve locally; null when the name does not resolve here (or not in time). */
async function resolveHere(host: string, gate: GateOptions): Promise<Resolved | null> {
  const resolve = gate.resolve ?? ((h: string) => lookup(h, { all: true, verbatim: true }));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((r) => {
    timer = setTimeout(() => r(null), gate.resolveTimeoutMs ?? 5000);
  });
  try {
    const addrs = await Promise.race([resolve(host), timeout]);
    return addrs === null || addrs.length === 0 ? null : addrs;
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Gate a destination the proxy will be asked to reach (rules above). Throws
 * ADDRESS_BLOCKED like the direct gate; resolves with whether the name was checked.
 */
export async function gateViaProxy(host: string, port: number, gate: GateOptions): Promise<'checked' | 'unresolved'> {
  if (isIP(host) !== 0) {
    await checkDestination(host, port, gate);
    return 'checked';
  }
  const addrs = await resolveHere(host, gate);
  if (addrs === null) return 'unresolved';
  await checkDestination(host, port, {
    blockPrivate: gate.blockPrivate,
    ownEndpoints: gate.ownEndpoints,
    ...(gate.exemptHosts === undefined ? {} : { exemptHosts: gate.exemptHosts }),
    resolve: () => Promise.resolve(addrs),
  });
  return 'checked';
}

/**
 * The upstream of a CONNECT byte tunnel: through the proxy (gate as above, then CONNECT)
 * unless `no_proxy` or loopback says direct, where it is the checked dial (I8).
 */
export async function dialTunnelDestination(
  proxy: UpstreamProxy | null,
  host: string,
  port: number,
  gate: GateOptions,
  timeoutMs: number,
): Promise<{ socket: Socket; viaProxy: boolean }> {
  const ep = proxy?.endpointFor('tunnel', host, port);
  if (proxy === null || ep === undefined) {
    const checked = await checkDestination(host, port, gate);
    return { socket: await dialChecked(checked.all, port, timeoutMs), viaProxy: false };
  }
  await gateViaProxy(host, port, gate);
  return { socket: await proxy.tunnel(ep, host, port, timeoutMs), viaProxy: true };
}

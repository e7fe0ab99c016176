/**
 * Which resolved addresses the dev vault's http_request may dial. Like the real
 * vault it refuses internal targets (SSRF_BLOCKED): loopback, private, link-local
 * (cloud metadata), CGNAT, ULA, NAT64/6to4, documentation, multicast and
 * unspecified ranges. `allow_loopback` lets tests reach an upstream on 127.0.0.1
 * and nothing else internal.
 */
import { BlockList, isIP } from 'node:net';

const blocked = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15],
  ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) blocked.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128], ['::1', 128], ['::ffff:0:0', 96], ['64:ff9b::', 96], ['64:ff9b:1::', 48], ['100::', 64],
  ['2001::', 32], ['2001:db8::', 32], ['2002::', 16], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8],
] as const) blocked.addSubnet(net, bits, 'ipv6');

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/** Why `address` may not be dialled, or null when it may. */
export function addressRefusal(address: string, allowLoopback: boolean): string | null {
  let ip = address;
  let family = isIP(ip);
  // An IPv4-mapped IPv6 address is the IPv4 address: judge that.
  const mapped = family === 6 ? /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip) : null;
  if (mapped) {
    ip = mapped[1]!;
    family = 4;
  }
  if (family === 0) return `"${address}" is not an IP address`;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (allowLoopback && loopback.check(ip, type)) return null;
  return blocked.check(ip, type) ? `${address} is an internal address` : null;
}

/**
 * Helpers for the upstream-proxy tests: a fixed name table for the sidecar's address
 * gate (so no test asks a real DNS server), a TLS client through a CONNECT tunnel, and
 * one metric value read from /metrics.
 */
import { connect as tlsConnect } from 'node:tls';
import { readFile } from 'node:fs/promises';
import { request } from 'undici';
import type { Pki } from '../connect/helpers.js';
import { openTunnel, readAll } from '../connect/helpers.js';

/** A resolver for the sidecar's address gate: names in `table` resolve, every other name is ENOTFOUND. */
export function fakeDns(table: Record<string, string>): (host: string) => Promise<Array<{ address: string; family: number }>> {
  return (host) => {
    const address = table[host];
    if (address === undefined) return Promise.reject(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' }));
    return Promise.resolve([{ address, family: address.includes(':') ? 6 : 4 }]);
  };
}

/** The value of one series on /metrics (0 when absent). `labels` is the exact `{...}` text. */
export async function metricValue(adminUrl: string, name: string, labels: string): Promise<number> {
  const text = await (await request(`${adminUrl}/metrics`)).body.text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

/**
 * CONNECT `authority` through the sidecar (a byte tunnel), then TLS to the upstream with
 * its own CA and `servername`, one GET; returns the CONNECT status and the raw answer.
 */
export async function httpsThroughByteTunnel(
  sidecarPort: number,
  authority: string,
  servername: string,
  pki: Pki,
  headers = '',
): Promise<{ connectStatus: number; connectHead: string; answer: string }> {
  const t = await openTunnel(sidecarPort, authority);
  if (t.status !== 200) {
    t.socket.destroy();
    return { connectStatus: t.status, connectHead: t.head, answer: '' };
  }
  const ca = await readFile(pki.upstreamCaFile, 'utf8');
  const tls = tlsConnect({ socket: t.socket, servername, ca });
  await new Promise<void>((resolve, reject) => {
    tls.once('secureConnect', () => resolve());
    tls.once('error', reject);
  });
  tls.write(`GET /through-tunnel HTTP/1.1\r\nHost: ${authority}\r\n${headers}Connection: close\r\n\r\n`);
  return { connectStatus: t.status, connectHead: t.head, answer: await readAll(tls) };
}

/** Base64 of `user:pass` as a Basic Proxy-Authorization carries it. */
export function basic(userPass: string): string {
  return Buffer.from(userPass, 'utf8').toString('base64');
}

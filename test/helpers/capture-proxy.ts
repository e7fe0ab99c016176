/**
 * A plain-HTTP forward proxy for tests that records every byte it receives, per
 * connection. It relays CONNECT (answering 200 once the destination is dialled) and
 * absolute-form requests (the bytes are passed on unchanged; origin servers accept
 * absolute-form, RFC 9112 §3.2.2). Loopback only: names are mapped through `hosts`,
 * IP literals must be loopback, anything else gets 502. One destination per
 * connection (the first request's), which is all the sidecar's tunnels need.
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface CapturedConnection {
  /** The first request head as received (up to the blank line). */
  head: string;
  /** Every byte received from the client on this connection. */
  bytes: Buffer;
}

export interface CaptureProxy {
  readonly port: number;
  readonly url: string;
  readonly connections: CapturedConnection[];
  /** Everything received on every connection, latin1. */
  wireText(): string;
  close(): Promise<void>;
}

export async function startCaptureProxy(hosts: Readonly<Record<string, string>> = {}): Promise<CaptureProxy> {
  const connections: CapturedConnection[] = [];
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    const rec: CapturedConnection = { head: '', bytes: Buffer.alloc(0) };
    connections.push(rec);
    let pending = Buffer.alloc(0);
    let upstream: Socket | null = null;
    client.on('data', (c: Buffer) => {
      rec.bytes = Buffer.concat([rec.bytes, c]);
      if (upstream !== null) return; // piped below
      pending = Buffer.concat([pending, c]);
      const end = pending.indexOf('\r\n\r\n');
      if (end < 0) return;
      rec.head = pending.subarray(0, end + 4).toString('latin1');
      const m = /^([A-Z]+) (\S+) HTTP\/1\.[01]\r\n/.exec(rec.head);
      const target = m === null ? null : destination(m[1]!, m[2]!, hosts);
      if (m === null || target === null) {
        client.end('HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
        return;
      }
      const isConnect = m[1] === 'CONNECT';
      const rest = isConnect ? pending.subarray(end + 4) : pending;
      client.pause();
      upstream = connect(target.port, target.address);
      sockets.add(upstream);
      const up = upstream;
      up.on('close', () => sockets.delete(up));
      up.on('error', () => client.destroy());
      up.once('connect', () => {
        if (isConnect) client.write('HTTP/1.1 200 Connection established\r\n\r\n');
        if (rest.length > 0) up.write(rest);
        client.removeAllListeners('data');
        client.on('data', (d: Buffer) => (rec.bytes = Buffer.concat([rec.bytes, d])));
        client.pipe(up);
        up.pipe(client);
        client.resume();
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    connections,
    wireText: () => Buffer.concat(connections.map((c) => c.bytes)).toString('latin1'),
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

function destination(method: string, target: string, hosts: Readonly<Record<string, string>>): { address: string; port: number } | null {
  let authority = target;
  if (method !== 'CONNECT') {
    const m = /^http:\/\/([^/]+)/.exec(target);
    if (m === null) return null;
    authority = m[1]!.includes(':') ? m[1]! : `${m[1]}:80`;
  }
  const colon = authority.lastIndexOf(':');
  const host = authority.slice(0, colon).replace(/^\[|\]$/g, '');
  const address = hosts[host] ?? host;
  if (address !== '127.0.0.1' && address !== '::1') return null;
  return { address, port: Number(authority.slice(colon + 1)) };
}

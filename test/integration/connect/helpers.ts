/**
 * Helpers for the CONNECT tests: a throwaway PKI (the sidecar's interception CA made
 * by the real `ca init` code, and a separate test CA for the TLS echo upstream), a raw
 * CONNECT client, a tiny CONNECT agent for `https`/`ws`, a listener that counts
 * connections (to prove nothing was dialled), and a TCP byte echo.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent as HttpsAgent, type AgentOptions, type RequestOptions } from 'node:https';
import type { Duplex } from 'node:stream';
import { connect as netConnect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { initCa } from '../../../src/tls/ca.js';
import { createCa, createLeaf, issuerFrom } from '../../../src/tls/x509.js';
import { startEcho, type Echo } from '../../helpers/echo.js';
import { startStack, type Stack } from '../../helpers/stack.js';

export interface Pki {
  readonly dir: string;
  /** The sidecar's interception CA directory (ca.crt, ca.key, ca-bundle.crt). */
  readonly caDir: string;
  readonly caPem: string;
  readonly caFile: string;
  /** The echo upstream's own CA, trusted by the sidecar through tls.upstream_ca_file. */
  readonly upstreamCaFile: string;
  /** A key and certificate for `host`, signed by the upstream CA (or by an untrusted one). */
  leaf(host: string, opts?: { untrusted?: boolean }): { key: string; cert: string };
}

export async function makePki(): Promise<Pki> {
  const dir = await mkdtemp(join(tmpdir(), 'sanctum-connect-'));
  const caDir = join(dir, 'ca');
  await initCa(caDir);
  const caFile = join(caDir, 'ca.crt');
  const caPem = await readFile(caFile, 'utf8');
  const upstreamCa = createCa({ commonName: 'test upstream CA' });
  const upstreamIssuer = issuerFrom(new X509Certificate(upstreamCa.certPem), upstreamCa.key);
  const rogue = createCa({ commonName: 'untrusted CA' });
  const rogueIssuer = issuerFrom(new X509Certificate(rogue.certPem), rogue.key);
  const upstreamCaFile = join(dir, 'upstream-ca.crt');
  await writeFile(upstreamCaFile, upstreamCa.certPem);
  return {
    dir,
    caDir,
    caPem,
    caFile,
    upstreamCaFile,
    leaf(host, opts = {}) {
      const l = createLeaf(host, opts.untrusted ? rogueIssuer : upstreamIssuer);
      return { key: l.keyPem, cert: l.certPem };
    },
  };
}

/** A TLS echo upstream on 127.0.0.1 whose certificate names `host` (default 127.0.0.1). */
export function startTlsEcho(pki: Pki, host = '127.0.0.1', untrusted = false): Promise<Echo> {
  return startEcho({ tls: pki.leaf(host, { untrusted }) });
}

export interface Tunnel {
  readonly status: number;
  readonly head: string;
  readonly socket: Socket;
}

/** Send `CONNECT authority` on a fresh connection and read the answer's head (the socket stays open on 200). */
export function openTunnel(proxyPort: number, authority: string, extra = ''): Promise<Tunnel> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(proxyPort, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const onData = (c: Buffer): void => {
      buf = Buffer.concat([buf, c]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.removeListener('data', onData);
      socket.pause();
      const head = buf.subarray(0, end).toString('latin1');
      const rest = buf.subarray(end + 4);
      if (rest.length > 0) socket.unshift(rest);
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), head, socket });
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('connect', () => socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${extra}\r\n`));
  });
}

/** Read everything until the peer closes (or `ms` of quiet). */
export function readAll(socket: Socket | TLSSocket, ms = 2000): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    }
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      clearTimeout(t);
      t = setTimeout(done, ms);
    });
    socket.once('end', done);
    socket.once('close', done);
    socket.once('error', done);
    socket.resume();
  });
}

/**
 * The smallest CONNECT agent: `CONNECT host:port` to the sidecar, then TLS to the
 * requested host over the tunnel, trusting `ca`. Usable with `https.request` and `ws`.
 */
export class ConnectAgent extends HttpsAgent {
  readonly peerCertificates: X509Certificate[] = [];
  readonly alpn: Array<string | false> = [];

  constructor(
    private readonly proxyPort: number,
    private readonly ca: string,
    opts: AgentOptions = {},
  ) {
    super({ keepAlive: false, ...opts });
  }

  override createConnection(options: RequestOptions, cb?: (err: Error | null, stream: Duplex) => void): undefined {
    const host = options.host ?? 'localhost';
    const port = Number(options.port ?? 443);
    openTunnel(this.proxyPort, `${host.includes(':') ? `[${host}]` : host}:${port}`).then(
      ({ status, socket }) => {
        if (status !== 200) {
          socket.destroy();
          cb?.(new Error(`CONNECT answered ${status}`), socket);
          return;
        }
        const tls = tlsConnect({ socket, servername: options.servername ?? host, ca: this.ca, ALPNProtocols: ['http/1.1'] });
        tls.once('secureConnect', () => {
          this.peerCertificates.push(new X509Certificate(tls.getPeerCertificate().raw));
          this.alpn.push(tls.alpnProtocol ?? false);
        });
        cb?.(null, tls);
      },
      (err: Error) => cb?.(err, undefined as unknown as Duplex),
    );
    return undefined;
  }
}

/** A listener that only counts connections: proof that a refused target was never dialled. */
export async function countingListener(): Promise<{ port: number; count(): number; close(): Promise<void> }> {
  let n = 0;
  const sockets = new Set<Socket>();
  const server = createNetServer((s) => {
    n += 1;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    count: () => n,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A TCP server that echoes every byte it receives (a stand-in for any TLS or binary protocol). */
export async function byteEcho(): Promise<{ port: number; received(): Buffer; close(): Promise<void> }> {
  const got: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server = createNetServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    s.on('data', (c: Buffer) => {
      got.push(c);
      s.write(c);
    });
    s.on('end', () => s.end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    received: () => Buffer.concat(got),
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** The routes most CONNECT tests use: an https credential route (intercepted) and an http one (tunnelled plain HTTP). */
export function connectRoutes(o: { tlsEchoPort: number; egress?: string }): string {
  return `
${o.egress ?? 'egress:\n  unmatched: deny\n  block_private_addresses: true'}
routes:
  - name: openai
    match: { host: api.openai.com, path: /v1/* }
    prefix: /openai
    upstream: https://127.0.0.1:${o.tlsEchoPort}
    credential: openai/api-key
    inject: { header_type: bearer }
  - name: github
    match: { host: api.github.com }
    upstream: \${ECHO}
    allow_plaintext: true
    credential: github/token
    inject: { header_type: bearer }
`;
}

export function tlsExtra(pki: Pki, withCa = true): string {
  return ['tls:', ...(withCa ? [`  ca_dir: ${JSON.stringify(pki.caDir)}`] : []), `  upstream_ca_file: ${JSON.stringify(pki.upstreamCaFile)}`].join('\n');
}

/** The canonical line of the tunnel (form connect) for `host`. */
export function tunnelLines(lines: Array<Record<string, unknown>>, host?: string): Array<Record<string, unknown>> {
  return lines.filter((l) => l.form === 'connect' && (host === undefined || l.host === host));
}

export async function waitFor(check: () => boolean, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The interception fixture: a test PKI, a TLS echo upstream it signs, and a stack that trusts it with a CA configured. */
export interface InterceptFixture {
  readonly pki: Pki;
  readonly upstream: Echo;
  readonly stack: Stack;
  close(): Promise<void>;
}

export async function startInterceptFixture(): Promise<InterceptFixture> {
  const pki = await makePki();
  const upstream = await startTlsEcho(pki);
  const stack = await startStack({ routes: connectRoutes({ tlsEchoPort: upstream.port }), extra: tlsExtra(pki) });
  return {
    pki,
    upstream,
    stack,
    async close(): Promise<void> {
      await stack.close();
      await upstream.close();
    },
  };
}

/**
 * A capture upstream for the hostile-input and fault suites: a real HTTP server on
 * 127.0.0.1:0 that records every byte it receives (per connection, as sent on the
 * wire) and every request the HTTP parser saw, whether it completed or was aborted.
 *
 * Unlike the echo upstream it never reflects request headers in its answers, so any
 * credential found in a response the agent receives was put there by the sidecar.
 * Answers by path:
 *   /sse?n=N&interval=MS   N server-sent events (records whether the stream was cut)
 *   /hang                  reads the request, never answers
 *   /reset-body            headers + part of a declared body, then a TCP reset
 *   /hold                  answers only when the request body has fully arrived (default for all)
 *   anything else          200 JSON {upstream, method, url, bodyBytes, credentialHeaders}
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface CapturedRequest {
  readonly upstream: string;
  /** Index of the TCP connection (per upstream) the request arrived on. */
  readonly conn: number;
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: string[];
  bodyBytes: number;
  /** First 64 KiB of the body, latin1. */
  body: string;
  /** The body arrived completely (the parser saw its end). */
  complete: boolean;
  /** The request stream closed before its end: the sender aborted it. */
  aborted: boolean;
  /** For streamed answers: the connection went away before the answer finished. */
  responseCut: boolean;
}

export interface CaptureUpstream {
  readonly name: string;
  readonly origin: string;
  readonly port: number;
  readonly requests: CapturedRequest[];
  /** TCP connections accepted so far. */
  connections(): number;
  /** Connections currently open. */
  openConnections(): number;
  /** Total bytes received on all connections. */
  bytesReceived(): number;
  /** Everything received so far (bounded to the first 4 MiB), latin1. */
  wireText(): string;
  /** Resolve when `pred` holds (checked on every event), or reject after `timeoutMs`. */
  waitUntil(pred: () => boolean, timeoutMs?: number, what?: string): Promise<void>;
  close(): Promise<void>;
}

const WIRE_CAP = 4 * 1024 * 1024;
const BODY_CAP = 64 * 1024;

/** Header names that carry credentials; the answer says which were present (never their values). */
const CREDENTIAL_NAMES = ['authorization', 'x-api-key', 'api-key', 'proxy-authorization', 'cookie'];

export interface CaptureOptions {
  /** Keep only the last N requests (long runs); default: all. */
  readonly keep?: number;
  /** Called once per request when its head has arrived (for checks in long runs). */
  readonly onRequest?: (r: CapturedRequest) => void;
}

export async function startCaptureUpstream(name: string, opts: CaptureOptions = {}): Promise<CaptureUpstream> {
  const requests: CapturedRequest[] = [];
  const sockets = new Set<Socket>();
  const wire: Buffer[] = [];
  let wireBytes = 0;
  let totalBytes = 0;
  let connCount = 0;
  const waiters = new Set<() => void>();
  const notify = (): void => {
    for (const w of [...waiters]) w();
  };

  const server: Server = createServer((req, res) => handle(req, res));
  server.keepAliveTimeout = 2000;
  server.on('connection', (s: Socket) => {
    const idx = connCount++;
    (s as Socket & { captureIndex?: number }).captureIndex = idx;
    sockets.add(s);
    // Listening to 'data' makes the HTTP parser hand the bytes to JS too (it un-consumes the socket).
    s.on('data', (c: Buffer) => {
      totalBytes += c.length;
      if (wireBytes < WIRE_CAP) {
        wire.push(c);
        wireBytes += c.length;
      }
      notify();
    });
    s.on('close', () => {
      sockets.delete(s);
      notify();
    });
    s.on('error', () => undefined);
    notify();
  });

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const cap: CapturedRequest = {
      upstream: name,
      conn: (req.socket as Socket & { captureIndex?: number }).captureIndex ?? -1,
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      bodyBytes: 0,
      body: '',
      complete: false,
      aborted: false,
      responseCut: false,
    };
    requests.push(cap);
    if (opts.keep !== undefined && requests.length > opts.keep) requests.splice(0, requests.length - opts.keep);
    opts.onRequest?.(cap);
    notify();
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    req.on('data', (c: Buffer) => {
      if (cap.bodyBytes < BODY_CAP) cap.body += c.subarray(0, BODY_CAP - cap.bodyBytes).toString('latin1');
      cap.bodyBytes += c.length;
      notify();
    });
    req.on('error', () => undefined);
    req.on('close', () => {
      if (!cap.complete) cap.aborted = true;
      notify();
    });
    res.on('close', () => {
      if (!res.writableFinished) cap.responseCut = true;
      notify();
    });
    req.on('end', () => {
      cap.complete = true;
      notify();
      if (path.endsWith('/hang')) return;
      answer(req, res, cap, path);
    });
  }

  function answer(req: IncomingMessage, res: ServerResponse, cap: CapturedRequest, path: string): void {
    const query = new URLSearchParams((req.url ?? '').split('?')[1] ?? '');
    if (path.endsWith('/sse')) {
      const n = Math.min(Number(query.get('n') ?? 20), 100_000);
      const interval = Math.max(1, Number(query.get('interval') ?? 20));
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.flushHeaders();
      let i = 0;
      const tick = (): void => {
        if (res.destroyed) return;
        res.write(`id: ${i}\ndata: {"token":${i}}\n\n`);
        i += 1;
        if (i >= n) res.end();
        else setTimeout(tick, interval).unref();
      };
      tick();
      return;
    }
    if (path.endsWith('/reset-body')) {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100000' });
      res.write('partial-body-');
      setTimeout(() => res.socket?.resetAndDestroy(), 30).unref();
      return;
    }
    const present = CREDENTIAL_NAMES.filter((h) => req.headers[h] !== undefined);
    const body = JSON.stringify({ upstream: name, method: cap.method, url: cap.url, bodyBytes: cap.bodyBytes, credentialHeaders: present });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    name,
    origin: `http://127.0.0.1:${port}`,
    port,
    requests,
    connections: () => connCount,
    openConnections: () => sockets.size,
    bytesReceived: () => totalBytes,
    wireText: () => Buffer.concat(wire).toString('latin1'),
    waitUntil(pred: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
      return new Promise((resolve, reject) => {
        if (pred()) return resolve();
        const check = (): void => {
          if (!pred()) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`capture upstream ${name}: timed out after ${timeoutMs} ms waiting for ${what}`));
        }, timeoutMs);
        waiters.add(check);
      });
    },
    async close(): Promise<void> {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Bytes, connections and requests of a set of upstreams at one moment, to diff around a case. */
export interface Ledger {
  readonly bytes: Record<string, number>;
  readonly connections: Record<string, number>;
  readonly requests: Record<string, number>;
}

export function ledger(ups: readonly CaptureUpstream[]): Ledger {
  const bytes: Record<string, number> = {};
  const connections: Record<string, number> = {};
  const requests: Record<string, number> = {};
  for (const u of ups) {
    bytes[u.name] = u.bytesReceived();
    connections[u.name] = u.connections();
    requests[u.name] = u.requests.length;
  }
  return { bytes, connections, requests };
}

/**
 * Which upstreams received anything since `before` (bytes on the wire, a new
 * connection, or a parsed request).
 */
export function touchedSince(ups: readonly CaptureUpstream[], before: Ledger): string[] {
  const now = ledger(ups);
  return ups
    .filter((u) => now.bytes[u.name] !== before.bytes[u.name] || now.connections[u.name] !== before.connections[u.name] || now.requests[u.name] !== before.requests[u.name])
    .map((u) => u.name);
}

/**
 * Every secret found on an upstream's wire that is not in its allowed set, as
 * "upstream: secret-name". Empty means no credential went anywhere it must not.
 */
export function misroutedSecrets(
  ups: readonly CaptureUpstream[],
  secrets: Readonly<Record<string, string>>,
  allowed: Readonly<Record<string, readonly string[]>>,
): string[] {
  const out: string[] = [];
  for (const u of ups) {
    const text = u.wireText();
    const ok = new Set(allowed[u.name] ?? []);
    for (const [secretName, value] of Object.entries(secrets)) {
      if (ok.has(secretName)) continue;
      if (text.includes(value) || text.includes(Buffer.from(value).toString('base64'))) out.push(`${u.name}: ${secretName}`);
    }
  }
  return out;
}

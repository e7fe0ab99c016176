/**
 * The echo upstream for integration tests: a real HTTP (or HTTPS) server on port 0
 * that records everything it receives and answers by path:
 *   /sse?n=20&interval=50   n server-sent events, interval ms apart
 *   /download?bytes=N       N bytes streamed in 64 KiB chunks with backpressure
 *   /redirect?to=URL        302 to URL
 *   /status/NNN             that status, empty JSON body
 *   /forge                  answers with a forged x-sanctum-error header
 *   /hang                   never answers
 *   /reset                  sends headers and part of a body, then resets the socket
 *   anything else           200 JSON: method, url, headers, body (when small), body bytes
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { createHash } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';

export interface Captured {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: string[];
  bodyBytes: number;
  bodySha256: string;
  body: string;
  complete: boolean;
  aborted: boolean;
}

export interface Echo {
  readonly origin: string;
  readonly port: number;
  readonly host: string;
  readonly requests: Captured[];
  /** Resolves when `n` requests have fully arrived (or aborted). */
  waitFor(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startEcho(opts: { tls?: { key: string | Buffer; cert: string | Buffer } } = {}): Promise<Echo> {
  const requests: Captured[] = [];
  const waiters: Array<() => void> = [];
  const sockets = new Set<Socket>();
  const settle = (): void => {
    for (const w of waiters.splice(0)) w();
  };

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const cap: Captured = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      bodyBytes: 0,
      bodySha256: '',
      body: '',
      complete: false,
      aborted: false,
    };
    requests.push(cap);
    const hash = createHash('sha256');
    const small: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      cap.bodyBytes += c.length;
      hash.update(c);
      if (cap.bodyBytes <= 65536) small.push(c);
    });
    req.on('error', () => undefined);
    req.on('close', () => {
      if (!cap.complete) {
        cap.aborted = true;
        settle();
      }
    });
    req.on('end', () => {
      cap.complete = true;
      cap.bodySha256 = hash.digest('hex');
      cap.body = cap.bodyBytes <= 65536 ? Buffer.concat(small).toString('utf8') : '';
      settle();
      respond(req, res, cap);
    });
  };

  const server: Server = opts.tls ? createTlsServer({ key: opts.tls.key, cert: opts.tls.cert }, handler) : createServer(handler);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('secureConnection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const a = server.address() as AddressInfo;
  return {
    origin: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${a.port}`,
    port: a.port,
    host: '127.0.0.1',
    requests,
    waitFor(n: number, timeoutMs = 10_000): Promise<void> {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`echo: expected ${n} requests, saw ${requests.length}`)), timeoutMs);
        const check = (): void => {
          const done = requests.filter((r) => r.complete || r.aborted).length;
          if (done >= n) {
            clearTimeout(t);
            resolve();
          } else waiters.push(check);
        };
        check();
      });
    },
    async close(): Promise<void> {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function respond(req: IncomingMessage, res: ServerResponse, cap: Captured): void {
  const url = new URL(req.url ?? '/', 'http://echo.invalid');
  const p = url.pathname;
  if (p.endsWith('/sse')) {
    const n = Number(url.searchParams.get('n') ?? 20);
    const interval = Number(url.searchParams.get('interval') ?? 50);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.flushHeaders();
    let i = 0;
    const tick = (): void => {
      if (res.destroyed) return;
      res.write(`id: ${i}\ndata: {"token":${i},"t":${Date.now()}}\n\n`);
      i += 1;
      if (i >= n) {
        res.end();
        return;
      }
      setTimeout(tick, interval);
    };
    tick();
    return;
  }
  if (p.endsWith('/download')) {
    let left = Number(url.searchParams.get('bytes') ?? 1024);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(left) });
    const chunk = Buffer.alloc(65536, 0x61);
    const pump = (): void => {
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
    return;
  }
  if (p.endsWith('/redirect')) {
    res.writeHead(302, { location: url.searchParams.get('to') ?? 'http://evil.test/' });
    res.end();
    return;
  }
  const status = /\/status\/(\d{3})$/.exec(p);
  if (status) {
    res.writeHead(Number(status[1]), { 'content-type': 'application/json' });
    res.end('{}');
    return;
  }
  if (p.endsWith('/forge')) {
    res.writeHead(200, { 'x-sanctum-error': 'FORGED', 'content-type': 'text/plain' });
    res.end('forged');
    return;
  }
  if (p.endsWith('/hang')) return;
  if (p.endsWith('/reset')) {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1000000' });
    res.write('partial');
    setTimeout(() => res.socket?.destroy(), 20);
    return;
  }
  const body = JSON.stringify({
    method: cap.method,
    url: cap.url,
    headers: cap.headers,
    body: cap.body,
    bodyBytes: cap.bodyBytes,
    bodySha256: cap.bodySha256,
  });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}

/**
 * The benchmark's upstream, run as its own process (pinned beside the load generator)
 * so that the proxy under test, not the origin, is the bottleneck. Two listeners:
 *
 * - `fast`: a minimal HTTP/1.1 responder on raw sockets for the small-JSON workload.
 *   Every request gets the same precomputed ~150-byte JSON answer; it parses only
 *   the request head (no bodies), which is ~1.6x what `node:http` does on one core
 *   here and keeps the origin out of the way of the proxies being compared.
 * - `http`: a `node:http` server for the streaming workloads:
 *     GET  .../sse?n=N&interval=MS  server-sent events stamped with the monotonic clock
 *     GET  .../download?bytes=N     N bytes streamed with back-pressure
 *     POST .../upload               counts the body and answers {"bytes":N}
 *     GET  .../json                 the same small JSON (for probes)
 *
 * Both count how many requests carried `Authorization: Bearer $BENCH_TOKEN`
 * (GET /__stats on the `http` listener), so the harness can prove that each
 * contender really injected the credential. Paths are matched on their last segment,
 * so base-URL routes that keep or strip their prefix both work.
 * Usage: node --import tsx bench/upstream.ts   (prints `LISTENING fast=<port> http=<port>`)
 */
import http from 'node:http';
import net from 'node:net';

const TOKEN = process.env.BENCH_TOKEN ?? 'bench-token';
const EXPECTED_AUTH = `Bearer ${TOKEN}`;

// ~150 bytes: the size of a small API answer (an id, a status and a few fields).
const JSON_BODY = Buffer.from(
  JSON.stringify({
    id: 'bench-0001',
    object: 'bench.result',
    status: 'ok',
    items: [1, 2, 3, 4, 5, 6, 7, 8],
    note: 'a small JSON response used to measure proxy overhead',
  }),
);
const JSON_HEADERS = ['content-type', 'application/json', 'content-length', String(JSON_BODY.length)];
const CHUNK = Buffer.alloc(64 * 1024, 0x61);

let authOk = 0;
let authBad = 0;

const FAST_RESPONSE = Buffer.concat([
  Buffer.from(
    `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${JSON_BODY.length}\r\n` +
      'keep-alive: timeout=120\r\n\r\n',
  ),
  JSON_BODY,
]);
const FAST_CLOSE_RESPONSE = Buffer.concat([
  Buffer.from(
    `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${JSON_BODY.length}\r\n` +
      'connection: close\r\n\r\n',
  ),
  JSON_BODY,
]);
const FAST_REJECT = Buffer.from('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
const AUTH_RE = new RegExp(`\\r\\nauthorization:[ \\t]*Bearer ${TOKEN.replace(/[^\w-]/g, '\\$&')}[ \\t]*\\r\\n`, 'i');
const SPECIAL_RE = /\r\n(?:(content-length:[ \t]*[1-9])|(transfer-encoding:)|(connection:[ \t]*close))/i;

/** One keep-alive connection of the fast listener: heads in, precomputed answers out. */
function fastConnection(sock: net.Socket): void {
  sock.setNoDelay(true);
  let pending = '';
  sock.on('data', (data: Buffer) => {
    pending += data.toString('latin1');
    if (pending.length > 64 * 1024) {
      sock.end(FAST_REJECT);
      return;
    }
    let out: Buffer[] | undefined;
    let first: Buffer | undefined;
    let close = false;
    for (let end = pending.indexOf('\r\n\r\n'); end !== -1; end = pending.indexOf('\r\n\r\n')) {
      const head = pending.slice(0, end + 2);
      pending = pending.slice(end + 4);
      if (AUTH_RE.test(head)) authOk += 1;
      else authBad += 1;
      let answer = FAST_RESPONSE;
      const special = SPECIAL_RE.exec(head);
      if (special) {
        // Bodies are not parsed here: refuse them rather than misread the stream.
        if (special[1] || special[2]) answer = FAST_REJECT;
        else answer = FAST_CLOSE_RESPONSE;
        close = true;
      }
      if (first === undefined) first = answer;
      else (out ??= [first]).push(answer);
      if (close) break;
    }
    if (first === undefined) return;
    const chunk = out ? Buffer.concat(out) : first;
    if (close) sock.end(chunk);
    else sock.write(chunk);
  });
  sock.on('error', () => sock.destroy());
}

function lastSegment(path: string): string {
  const q = path.indexOf('?');
  const p = q === -1 ? path : path.slice(0, q);
  return p.slice(p.lastIndexOf('/') + 1);
}

function query(url: string, name: string, fallback: number): number {
  const m = new RegExp(`[?&]${name}=(\\d+)`).exec(url);
  return m?.[1] ? Number(m[1]) : fallback;
}

function sse(req: http.IncomingMessage, res: http.ServerResponse): void {
  const n = Math.min(query(req.url ?? '', 'n', 10), 10_000);
  const interval = Math.min(query(req.url ?? '', 'interval', 20), 10_000);
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();
  let i = 0;
  const send = (): void => {
    // process.hrtime is CLOCK_MONOTONIC, shared by every process on the machine,
    // so the client can compute each event's delivery delay.
    res.write(`id: ${i}\ndata: {"i":${i},"t":${process.hrtime.bigint()}}\n\n`);
    i += 1;
    if (i >= n) {
      res.end();
      clearInterval(timer);
    }
  };
  const timer = setInterval(send, interval);
  res.on('close', () => clearInterval(timer));
  send();
}

function download(req: http.IncomingMessage, res: http.ServerResponse): void {
  const total = Math.min(query(req.url ?? '', 'bytes', 1 << 20), 4 * 1024 ** 3);
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) });
  let left = total;
  const pump = (): void => {
    while (left > 0) {
      const n = Math.min(left, CHUNK.length);
      left -= n;
      const ok = res.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n));
      if (!ok) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
}

function upload(req: http.IncomingMessage, res: http.ServerResponse): void {
  let bytes = 0;
  req.on('data', (c: Buffer) => {
    bytes += c.length;
  });
  req.on('end', () => {
    const body = `{"bytes":${bytes}}`;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length) });
    res.end(body);
  });
}

const server = http.createServer({ keepAliveTimeout: 120_000 }, (req, res) => {
  const url = req.url ?? '/';
  if (url === '/__stats') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ authOk, authBad }));
    return;
  }
  if (req.headers.authorization === EXPECTED_AUTH) authOk += 1;
  else authBad += 1;
  switch (lastSegment(url)) {
    case 'json':
      res.writeHead(200, JSON_HEADERS);
      res.end(JSON_BODY);
      return;
    case 'sse':
      sse(req, res);
      return;
    case 'download':
      download(req, res);
      return;
    case 'upload':
      upload(req, res);
      return;
    default:
      res.writeHead(404, { 'content-length': '0' });
      res.end();
  }
});
server.headersTimeout = 60_000;
server.requestTimeout = 0;
server.maxHeadersCount = 200;
const fast = net.createServer({ noDelay: true }, fastConnection);

function portOf(s: net.Server): number {
  const addr = s.address();
  return addr && typeof addr === 'object' ? addr.port : 0;
}
let listening = 0;
const ready = (): void => {
  listening += 1;
  if (listening === 2) process.stdout.write(`LISTENING fast=${portOf(fast)} http=${portOf(server)}\n`);
};
fast.listen(0, '127.0.0.1', ready);
server.listen(0, '127.0.0.1', ready);

const stop = (): void => {
  server.closeAllConnections();
  server.close();
  fast.close();
  setTimeout(() => process.exit(0), 200).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// Never outlive the harness: it holds our stdin open; EOF means it is gone.
process.stdin.on('end', stop);
process.stdin.resume();

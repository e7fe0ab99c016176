/**
 * A hostile upstream for the response-guard and header-policy tests: a real HTTP
 * server on 127.0.0.1:0 that hands the credential it received back in every way an
 * echo endpoint or a careless error page would. What it reflects is the value of the
 * request's `authorization` (or `x-api-key`) header, exactly as sent.
 *
 *   /header          in `x-echo-auth`, and quoted in `www-authenticate`
 *   /json            in a JSON body with Content-Length
 *   /decoded         the decoded `user:password` of a Basic value, in a JSON body
 *   /sse?at=K        as an SSE event whose bytes are written in two pieces split at
 *                    byte K of the secret (the token after "Bearer "), 20 ms apart
 *   /gzip?step=N     a gzip body holding it, written N compressed bytes at a time
 *   /cookie          two Set-Cookie headers and a plain body
 *   /clean-sse?n=N   N ordinary events 40 ms apart (the guard must not hold them back)
 *   anything else    200 JSON of the request headers it received
 * Every request's headers are recorded.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gzipSync } from 'node:zlib';

export interface Reflector {
  readonly origin: string;
  readonly port: number;
  readonly requests: IncomingHttpHeaders[];
  close(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function startReflector(): Promise<Reflector> {
  const requests: IncomingHttpHeaders[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    requests.push(req.headers);
    req.resume();
    req.on('end', () => {
      void (async () => {
        const value = String(req.headers.authorization ?? req.headers['x-api-key'] ?? '');
        const token = value.replace(/^Bearer /i, '');
        const url = new URL(req.url ?? '/', 'http://reflector.invalid');
        switch (url.pathname.replace(/^\/v1/, '')) {
          case '/header':
            res.writeHead(401, { 'x-echo-auth': value, 'www-authenticate': `Bearer realm="api", error="invalid_token", token="${token}"`, 'content-length': '2' });
            res.end('{}');
            return;
          case '/json': {
            const body = JSON.stringify({ error: { message: `Incorrect API key provided: ${token}. Check it.`, received: value } });
            res.writeHead(401, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
            res.end(body);
            return;
          }
          case '/decoded': {
            const body = JSON.stringify({ you_are: Buffer.from(value.replace(/^Basic /i, ''), 'base64').toString('utf8') });
            res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
            res.end(body);
            return;
          }
          case '/sse': {
            const at = Number(url.searchParams.get('at') ?? 0);
            res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
            res.write('data: {"n":1}\n\n');
            await sleep(20);
            res.write(`data: {"echo":"${token.slice(0, at)}`);
            await sleep(20);
            res.write(`${token.slice(at)}"}\n\n`);
            await sleep(20);
            res.end('data: [DONE]\n\n');
            return;
          }
          case '/gzip': {
            const step = Number(url.searchParams.get('step') ?? 64);
            const z = gzipSync(Buffer.from(`${'padding '.repeat(400)}{"key":"${token}"}${' tail'.repeat(400)}`));
            res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': String(z.length) });
            for (let i = 0; i < z.length && !res.destroyed; i += step) {
              res.write(z.subarray(i, i + step));
              await sleep(2);
            }
            res.end();
            return;
          }
          case '/cookie':
            res.writeHead(200, [
              ['set-cookie', 'session=derived-from-key; HttpOnly'],
              ['set-cookie', 'other=1'],
              ['content-type', 'text/plain'],
              ['content-length', '2'],
            ].flat());
            res.end('ok');
            return;
          case '/clean-sse': {
            const n = Number(url.searchParams.get('n') ?? 10);
            res.writeHead(200, { 'content-type': 'text/event-stream' });
            for (let i = 0; i < n && !res.destroyed; i++) {
              res.write(`id: ${i}\ndata: {"token":"s${i}"}\n\n`);
              await sleep(40);
            }
            res.end();
            return;
          }
          default: {
            const body = JSON.stringify({ headers: req.headers });
            res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
            res.end(body);
          }
        }
      })();
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    requests,
    async close(): Promise<void> {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

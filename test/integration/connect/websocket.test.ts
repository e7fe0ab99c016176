/**
 * WebSocket upgrades go through the same match, resolve and inject stages as any
 * request: the upstream sees the injected credential on the upgrade request (never the
 * placeholder), frames are echoed both ways after the 101, through an intercepted
 * CONNECT, a base-URL prefix, and an absolute-form request. A refused upgrade gets a
 * catalogued HTTP error; an upstream that declines the upgrade is relayed as is.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { startStack, SECRETS, PLACEHOLDER, type Stack } from '../../helpers/stack.js';
import { ConnectAgent, makePki, tlsExtra, waitFor, type Pki } from './helpers.js';

interface WsUpstream {
  readonly port: number;
  readonly upgrades: IncomingHttpHeaders[];
  close(): Promise<void>;
}

/** A WebSocket echo (over TLS when `tls` is given) that records each upgrade's headers and declines /deny. */
async function startWsEcho(tls?: { key: string; cert: string }): Promise<WsUpstream> {
  const upgrades: IncomingHttpHeaders[] = [];
  const server: Server = tls ? createHttpsServer(tls) : createHttpServer();
  const wss = new WebSocketServer({
    server,
    verifyClient: (info, cb) => {
      upgrades.push(info.req.headers);
      if (info.req.url?.endsWith('/deny')) cb(false, 403, 'Forbidden');
      else cb(true);
    },
  });
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    upgrades,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

let pki: Pki;
let wss: WsUpstream;
let ws: WsUpstream;
let stack: Stack;

before(async () => {
  pki = await makePki();
  wss = await startWsEcho(pki.leaf('127.0.0.1'));
  ws = await startWsEcho();
  stack = await startStack({
    extra: tlsExtra(pki),
    routes: `
egress:
  unmatched: deny
routes:
  - name: openai
    match: { host: api.openai.com, path: /v1/* }
    prefix: /openai
    upstream: https://127.0.0.1:${wss.port}
    credential: openai/api-key
    inject: { header_type: bearer }
  - name: github
    match: { host: api.github.com }
    upstream: http://127.0.0.1:${ws.port}
    allow_plaintext: true
    credential: github/token
    inject: { header_type: bearer }
`,
  });
});
after(async () => {
  await stack.close();
  await wss.close();
  await ws.close();
});

/** Open `client`, send three frames, collect the echoes, close. */
async function echoThree(client: WebSocket): Promise<string[]> {
  await new Promise<void>((resolve, reject) => {
    client.once('open', () => resolve());
    client.once('error', reject);
    client.once('unexpected-response', (_req, res) => reject(new Error(`unexpected ${res.statusCode}`)));
  });
  const got: string[] = [];
  const done = new Promise<void>((resolve) =>
    client.on('message', (d: Buffer) => {
      got.push(d.toString());
      if (got.length === 3) resolve();
    }),
  );
  for (const m of ['one', 'two', 'x'.repeat(70_000)]) client.send(m);
  await done;
  client.close();
  await new Promise((r) => client.once('close', r));
  return got;
}

test('WebSocket through an intercepted CONNECT: credential injected on the upgrade, frames echoed', async () => {
  const agent = new ConnectAgent(stack.proxyPort, pki.caPem);
  const client = new WebSocket('wss://api.openai.com/v1/realtime?model=x', {
    agent,
    headers: { authorization: `Bearer ${PLACEHOLDER}` },
  });
  assert.deepEqual(await echoThree(client), ['one', 'two', 'x'.repeat(70_000)]);
  const up = wss.upgrades.at(-1)!;
  assert.equal(up.authorization, `Bearer ${SECRETS.openai}`);
  assert.ok(!JSON.stringify(up).includes(PLACEHOLDER));
  assert.equal(up.upgrade, 'websocket');
  assert.equal(up.host, `127.0.0.1:${wss.port}`);
  assert.ok(up['sec-websocket-key']);
  agent.destroy();
  const line = (): Record<string, unknown> | undefined => stack.requestLines().find((l) => l.form === 'intercept' && l.route === 'openai');
  await waitFor(() => line() !== undefined);
  assert.equal(line()!.status, 101);
  assert.equal(line()!.outcome, 'forwarded');
});

test('WebSocket through a base-URL prefix route: credential injected, frames echoed', async () => {
  const client = new WebSocket(`ws://127.0.0.1:${stack.proxyPort}/openai/v1/realtime`);
  assert.deepEqual(await echoThree(client), ['one', 'two', 'x'.repeat(70_000)]);
  assert.equal(wss.upgrades.at(-1)!.authorization, `Bearer ${SECRETS.openai}`);
});

test('WebSocket through an absolute-form request: credential injected, a frame echoed', async () => {
  const socket = await new Promise<Socket>((resolve, reject) => {
    const req = httpRequest({
      host: '127.0.0.1',
      port: stack.proxyPort,
      path: 'http://api.github.com/socket',
      headers: {
        host: 'api.github.com',
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        authorization: `Bearer ${PLACEHOLDER}`,
      },
    });
    req.on('upgrade', (res, s: Socket) => {
      assert.equal(res.statusCode, 101);
      assert.equal(res.headers['sec-websocket-accept'], 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
      resolve(s);
    });
    req.on('response', (res) => reject(new Error(`status ${res.statusCode}`)));
    req.on('error', reject);
    req.end();
  });
  // One masked client text frame, "hello".
  const mask = Buffer.from([1, 2, 3, 4]);
  const payload = Buffer.from('hello').map((b, i) => b ^ mask[i % 4]!);
  socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | 5]), mask, payload]));
  const frame = await new Promise<Buffer>((r) => socket.once('data', r));
  assert.deepEqual([...frame.subarray(0, 2)], [0x81, 5]);
  assert.equal(frame.subarray(2, 7).toString(), 'hello');
  socket.destroy();
  assert.equal(ws.upgrades.at(-1)!.authorization, `Bearer ${SECRETS.github}`);
});

test('a refused upgrade gets a catalogued HTTP error; an upstream that declines is relayed', async () => {
  const refused = new WebSocket(`ws://127.0.0.1:${stack.proxyPort}/nowhere/socket`);
  const status = await new Promise<{ code: number; header: string | undefined }>((resolve, reject) => {
    refused.once('unexpected-response', (_req, res) => resolve({ code: res.statusCode ?? 0, header: res.headers['x-sanctum-error'] as string | undefined }));
    refused.once('open', () => reject(new Error('opened')));
    refused.once('error', () => undefined);
  });
  assert.deepEqual(status, { code: 400, header: 'BAD_TARGET' });
  refused.terminate();

  const count = wss.upgrades.length;
  const declined = new WebSocket(`ws://127.0.0.1:${stack.proxyPort}/openai/v1/deny`);
  const code = await new Promise<number>((resolve) => {
    declined.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    declined.once('error', () => undefined);
  });
  assert.equal(code, 403);
  assert.equal(wss.upgrades.length, count + 1);
  assert.equal(wss.upgrades.at(-1)!.authorization, `Bearer ${SECRETS.openai}`);
  declined.terminate();
});

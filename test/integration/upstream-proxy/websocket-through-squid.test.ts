/**
 * A WebSocket upgrade on an https route goes through squid like any request: the
 * route's pool opens a CONNECT tunnel, TLS runs end to end, the upgrade carries the
 * injected credential, frames flow both ways, and squid logs only the CONNECT.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { SECRETS, startStack, type Stack } from '../../helpers/stack.js';
import { startSquid, SQUID_MISSING, type Squid } from '../../helpers/squid.js';
import { makePki, tlsExtra } from '../connect/helpers.js';
import { fakeDns } from './helpers.js';

const NAME = 'ws.upstream.test';
let squid: Squid;
let stack: Stack;
let server: ReturnType<typeof createServer>;
let wss: WebSocketServer;
const upgrades: IncomingHttpHeaders[] = [];

before(async () => {
  if (SQUID_MISSING) return;
  const pki = await makePki();
  server = createServer(pki.leaf(NAME));
  wss = new WebSocketServer({ server });
  wss.on('connection', (ws, req) => {
    upgrades.push(req.headers);
    ws.on('message', (d, binary) => ws.send(d, { binary }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  squid = await startSquid({ hosts: { [NAME]: '127.0.0.1' } });
  stack = await startStack({
    extra: tlsExtra(pki, false),
    resolve: fakeDns({}),
    routes: `
egress:
  upstream_proxy: ${squid.url}
routes:
  - name: realtime
    prefix: /realtime
    upstream: https://${NAME}:${port}
    credential: openai/api-key
`,
  });
});

after(async () => {
  if (SQUID_MISSING) return;
  await stack.close();
  for (const c of wss.clients) c.terminate();
  await new Promise<void>((r) => wss.close(() => r()));
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  await squid.close();
});

test('a WebSocket upgrade through the tunnel: credential on the upgrade, frames both ways', { skip: SQUID_MISSING }, async () => {
  const client = new WebSocket(`ws://127.0.0.1:${stack.proxyPort}/realtime/v1/socket`);
  await new Promise<void>((resolve, reject) => {
    client.once('open', () => resolve());
    client.once('error', reject);
  });
  const echoed = new Promise<string>((r) => client.once('message', (d: Buffer) => r(d.toString())));
  client.send('ping through the corporate proxy');
  assert.equal(await echoed, 'ping through the corporate proxy');
  client.close();
  await new Promise((r) => client.once('close', r));
  assert.equal(upgrades.length, 1);
  assert.equal(upgrades[0]!.authorization, `Bearer ${SECRETS.openai}`);
  const line = stack.requestLines().find((l) => l.route === 'realtime');
  assert.equal(line?.status, 101);
  assert.equal(line?.via_proxy, true);
  await stack.sidecar.close(2000);
  const e = await squid.waitForEntry((x) => x.method === 'CONNECT');
  assert.equal(e.url, `${NAME}:${(server.address() as AddressInfo).port}`);
  assert.ok(!(await squid.accessLog()).includes(SECRETS.openai));
});

/**
 * Tunnel lifetimes (I15), on the CONNECT handler wired with short timeouts: a byte
 * tunnel closes both ends after its idle timeout; a routed tunnel whose agent never
 * speaks is closed after the first-bytes deadline; a shutdown refuses new CONNECTs
 * with 503 and ends open tunnels at the drain deadline. Each ending is one canonical line.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { parseConfig } from '../../../src/config/load.js';
import { Metrics } from '../../../src/metrics/metrics.js';
import { gateFor } from '../../../src/egress/address-gate.js';
import { createConnectHandler } from '../../../src/proxy/tunnel/connect.js';
import { Draining } from '../../../src/proxy/draining.js';
import { InnerHttp } from '../../../src/proxy/tunnel/inner-http.js';
import { buildSnapshot } from '../../../src/proxy/snapshot.js';
import { byteEcho, openTunnel, readAll, waitFor } from './helpers.js';

/** The allow entry names the byte echo's port (without one, a byte tunnel may go to 443 only). */
const configFor = (echoPort: number): ReturnType<typeof parseConfig> => parseConfig(
  `version: 1
vault: { agent: a, tcp: "127.0.0.1:7600", key_file: /nonexistent.key }
egress: { unmatched: deny, allow: ["localhost:${echoPort}"], block_private_addresses: true }
limits: { headers_timeout: 300ms }
timeouts: { tunnel_idle: 300ms, tunnel_connect: 1s }
routes:
  - name: github
    match: { host: api.github.com }
    upstream: http://127.0.0.1:9
    allow_plaintext: true
    credential: github/token
`,
  'inline.yaml',
  {},
);
const lines: Array<Record<string, unknown>> = [];
const log = pino(
  { level: 'info' },
  new Writable({
    write(chunk: Buffer, _e, cb): void {
      for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  }),
);
const draining = new Draining();
/** What the handler sees: the real drain's sockets, and a switch to refuse new CONNECTs. */
let shuttingDown = false;
const drainState = {
  get active(): boolean {
    return shuttingDown || draining.active;
  },
  trackSocket: (s: import('node:net').Socket): void => draining.trackSocket(s),
};
let server: Server;
let port: number;
let echo: Awaited<ReturnType<typeof byteEcho>>;
let config: ReturnType<typeof parseConfig>;

before(async () => {
  echo = await byteEcho();
  config = configFor(echo.port);
  const snap = buildSnapshot(config, 1);
  const inner = new InnerHttp({ dispatch: (_q, res) => res.end(), upgrade: (_q, s) => s.destroy(), log }, config.limits);
  draining.track(inner.server);
  server = createServer();
  draining.track(server);
  server.on(
    'connect',
    createConnectHandler({
      snapshot: () => snap,
      log,
      metrics: new Metrics({ defaultMetrics: false }),
      gate: gateFor(() => config, () => [{ host: '127.0.0.1', port: (server.address() as AddressInfo).port }]),
      draining: drainState,
      inner,
      interceptor: null,
    }),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
after(async () => {
  await echo.close();
});

test('a byte tunnel closes both ends after its idle timeout', async () => {
  const t = await openTunnel(port, `localhost:${echo.port}`);
  assert.equal(t.status, 200);
  t.socket.write('ping');
  const started = Date.now();
  const got = await readAll(t.socket, 5000);
  assert.equal(got, 'ping');
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 250 && elapsed < 3000, `closed after ${elapsed} ms`);
  await waitFor(() => lines.some((l) => l.decision === 'tunnel'));
  const line = lines.find((l) => l.decision === 'tunnel')!;
  assert.deepEqual([line.bytes_in, line.bytes_out], [4, 4]);
});

test('a routed tunnel whose agent never speaks is closed after the first-bytes deadline', async () => {
  const t = await openTunnel(port, 'api.github.com:80');
  assert.equal(t.status, 200);
  const started = Date.now();
  await readAll(t.socket, 5000);
  assert.ok(Date.now() - started < 3000);
  await waitFor(() => lines.some((l) => l.host === 'api.github.com'));
  const line = lines.find((l) => l.host === 'api.github.com')!;
  assert.equal(line.decision, 'refused');
  assert.equal(line.reason, 'request_timeout');
});

test('shutdown: new CONNECTs get 503, open tunnels end at the drain deadline', async () => {
  const open = await openTunnel(port, `localhost:${echo.port}`);
  assert.equal(open.status, 200);
  const ended = readAll(open.socket, 5000);
  open.socket.write('x');
  shuttingDown = true;
  const refused = await openTunnel(port, `localhost:${echo.port}`);
  assert.equal(refused.status, 503);
  assert.match(refused.head, /x-sanctum-error: SHUTTING_DOWN/i);
  refused.socket.destroy();
  const started = Date.now();
  await draining.drain(150);
  assert.equal(await ended, 'x');
  assert.ok(Date.now() - started < 1000);
  await waitFor(() => draining.openSockets === 0);
});

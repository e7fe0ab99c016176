/**
 * Byte tunnels for allow-listed hosts: bytes pass untouched both ways (including half
 * closes), no credential is ever added, and the tunnel's canonical line carries the
 * decision and byte counters.
 *
 * The exemption rule is explicit here: `block_private_addresses` stays on, and the
 * exact allow-listed host `localhost` may resolve to loopback because it is listed
 * exactly; the same host reached through `unmatched: passthrough` (not listed) is refused.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startStack, type Stack } from '../../helpers/stack.js';
import { byteEcho, countingListener, openTunnel, readAll, tunnelLines, waitFor } from './helpers.js';

let echo: Awaited<ReturnType<typeof byteEcho>>;
let stack: Stack;
/** A port nothing listens on (allow-listed, to show a failed dial). */
let closedPort: number;

before(async () => {
  echo = await byteEcho();
  const closed = await countingListener();
  closedPort = closed.port;
  await closed.close();
  // An allow entry names its port: without one, a byte tunnel may go to 443 only.
  stack = await startStack({
    routes: `
egress:
  unmatched: deny
  allow: ["localhost:${echo.port}", "localhost:${closedPort}"]
  block_private_addresses: true
routes:
  - name: github
    match: { host: api.github.com }
    upstream: \${ECHO}
    allow_plaintext: true
    credential: github/token
    inject: { header_type: bearer }
`,
  });
});
after(async () => {
  await stack.close();
  await echo.close();
});

test('CONNECT to an exact allow-listed host passes bytes untouched, both ways', async () => {
  const t = await openTunnel(stack.proxyPort, `localhost:${echo.port}`);
  assert.equal(t.status, 200);
  assert.equal(t.head, 'HTTP/1.1 200 Connection Established');
  // Arbitrary bytes, including what would look like a TLS record and an HTTP request with a placeholder.
  const payload = Buffer.concat([
    Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05]),
    randomBytes(64 * 1024),
    Buffer.from('GET / HTTP/1.1\r\nAuthorization: Bearer sk-sanctum-placeholder\r\n\r\n'),
  ]);
  const back = new Promise<Buffer>((resolve) => {
    const got: Buffer[] = [];
    t.socket.on('data', (c: Buffer) => got.push(c));
    t.socket.once('end', () => resolve(Buffer.concat(got)));
    t.socket.resume();
  });
  t.socket.end(payload); // half-close: the echo answers, then closes its side
  const echoed = await back;
  assert.ok(echoed.equals(payload), 'the echo returned exactly the bytes sent');
  assert.ok(echo.received().equals(payload), 'the upstream received exactly the bytes sent');
  t.socket.destroy();

  await waitFor(() => tunnelLines(stack.requestLines(), 'localhost').length === 1);
  const line = tunnelLines(stack.requestLines(), 'localhost')[0]!;
  assert.equal(line.decision, 'tunnel');
  assert.equal(line.reason, 'allow_list');
  assert.equal(line.status, 200);
  assert.equal(line.bytes_in, payload.length);
  assert.equal(line.bytes_out, payload.length);
  assert.equal(typeof line.upstream_ms, 'number');
  const metrics = (await stack.sidecar.metrics.render()).body;
  assert.match(metrics, /sanctum_sidecar_tunnels_total\{outcome="tunnel"\} 1/);
  assert.match(metrics, /sanctum_sidecar_tunnels_active 0/);
});

test('a failed dial to an allowed host answers 502 and no 200 is sent', async () => {
  const t = await openTunnel(stack.proxyPort, `localhost:${closedPort}`);
  const rest = await readAll(t.socket);
  assert.equal(t.status, 502);
  assert.match(t.head + rest, /x-sanctum-error: UPSTREAM_UNREACHABLE/i);
});

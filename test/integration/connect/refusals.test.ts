/**
 * CONNECT refusals: each gets a catalogued status and code, a canonical line with
 * decision "refused" and the reason, and nothing is dialled (a counting listener
 * proves it where the target is local).
 *
 * Two sidecars: one deny-by-default (unlisted hosts are NO_ROUTE before any lookup),
 * and one with `unmatched: passthrough`, where every unrouted host reaches the address
 * gate (I8) without an exemption — so loopback, metadata, IPv4-mapped and
 * loopback-resolving names are refused by the gate itself. The sidecar's own ports and
 * the vault's are refused even with `block_private_addresses: false`.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, type Stack } from '../../helpers/stack.js';
import { countingListener, openTunnel, readAll, tunnelLines, waitFor } from './helpers.js';

let deny: Stack;
let open: Stack;
let lenient: Stack;
let counter: Awaited<ReturnType<typeof countingListener>>;

const ROUTE = `
routes:
  - name: github
    match: { host: api.github.com }
    upstream: \${ECHO}
    allow_plaintext: true
    credential: github/token
    inject: { header_type: bearer }
`;

before(async () => {
  counter = await countingListener();
  deny = await startStack({ routes: `egress:\n  unmatched: deny\n  block_private_addresses: true\n${ROUTE}` });
  open = await startStack({ routes: `egress:\n  unmatched: passthrough\n  block_private_addresses: true\n${ROUTE}` });
  lenient = await startStack({ routes: `egress:\n  unmatched: passthrough\n  block_private_addresses: false\n${ROUTE}` });
});
after(async () => {
  await deny.close();
  await open.close();
  await lenient.close();
  await counter.close();
});

async function connectStatus(stack: Stack, authority: string): Promise<{ status: number; code: string; body: string }> {
  const t = await openTunnel(stack.proxyPort, authority);
  const rest = await readAll(t.socket, 500);
  const all = `${t.head}\r\n\r\n${rest}`;
  return { status: t.status, code: /x-sanctum-error: ([A-Z_]+)/i.exec(all)?.[1] ?? '', body: rest };
}

async function lastRefusal(stack: Stack, host: string): Promise<Record<string, unknown>> {
  await waitFor(() => tunnelLines(stack.requestLines(), host).length > 0);
  const lines = tunnelLines(stack.requestLines(), host);
  return lines[lines.length - 1]!;
}

test('an unlisted host: 403 NO_ROUTE', async () => {
  const r = await connectStatus(deny, 'example.com:443');
  assert.deepEqual([r.status, r.code], [403, 'NO_ROUTE']);
  const line = await lastRefusal(deny, 'example.com');
  assert.equal(line.decision, 'refused');
  assert.equal(line.reason, 'no_route');
  assert.equal(line.code, 'NO_ROUTE');
});

test('127.0.0.1: refused (NO_ROUTE when denied by default, ADDRESS_BLOCKED by the gate) and never dialled', async () => {
  assert.deepEqual(Object.values(await connectStatus(deny, `127.0.0.1:${counter.port}`)).slice(0, 2), [403, 'NO_ROUTE']);
  const r = await connectStatus(open, `127.0.0.1:${counter.port}`);
  assert.deepEqual([r.status, r.code], [403, 'ADDRESS_BLOCKED']);
  assert.equal((await lastRefusal(open, '127.0.0.1')).reason, 'loopback');
  assert.equal(counter.count(), 0);
});

test('169.254.169.254 (cloud metadata): 403 ADDRESS_BLOCKED, even with block_private_addresses: false', async () => {
  for (const s of [open, lenient]) {
    const r = await connectStatus(s, '169.254.169.254:80');
    assert.deepEqual([r.status, r.code], [403, 'ADDRESS_BLOCKED']);
    assert.equal((await lastRefusal(s, '169.254.169.254')).reason, 'metadata');
  }
});

test('[::ffff:7f00:1] (IPv4-mapped loopback): 403 ADDRESS_BLOCKED; the dotted spelling [::ffff:127.0.0.1] is not canonical: 400', async () => {
  const r = await connectStatus(open, `[::ffff:7f00:1]:${counter.port}`);
  assert.deepEqual([r.status, r.code], [403, 'ADDRESS_BLOCKED']);
  assert.equal((await lastRefusal(open, '::ffff:7f00:1')).reason, 'loopback');
  const dotted = await connectStatus(open, `[::ffff:127.0.0.1]:${counter.port}`);
  assert.deepEqual([dotted.status, dotted.code], [400, 'BAD_TARGET']);
  assert.equal(counter.count(), 0);
});

test('a name that resolves to loopback (localhost), not exactly allow-listed: 403 ADDRESS_BLOCKED, never dialled', async () => {
  const r = await connectStatus(open, `localhost:${counter.port}`);
  assert.deepEqual([r.status, r.code], [403, 'ADDRESS_BLOCKED']);
  assert.equal((await lastRefusal(open, 'localhost')).reason, 'loopback');
  assert.equal(counter.count(), 0);
});

test("the sidecar's own proxy and admin ports: 403 ADDRESS_BLOCKED even with block_private_addresses: false", async () => {
  const admin = Number(new URL(lenient.adminUrl).port);
  for (const target of [`127.0.0.1:${lenient.proxyPort}`, `localhost:${lenient.proxyPort}`, `127.0.0.1:${admin}`, `0.0.0.0:${lenient.proxyPort}`]) {
    const r = await connectStatus(lenient, target);
    assert.deepEqual([r.status, r.code], [403, 'ADDRESS_BLOCKED'], target);
  }
  assert.equal((await lastRefusal(lenient, '0.0.0.0')).reason, 'own_endpoint');
});

test("the vault's port: 403 ADDRESS_BLOCKED even with block_private_addresses: false", async () => {
  const ep = lenient.vault.endpoint as { host: string; port: number };
  const r = await connectStatus(lenient, `127.0.0.1:${ep.port}`);
  assert.deepEqual([r.status, r.code], [403, 'ADDRESS_BLOCKED']);
  assert.match(r.body, /own listeners or the vault/);
  assert.equal((await lastRefusal(lenient, '127.0.0.1')).reason, 'own_endpoint');
});

test('with block_private_addresses: false an ordinary loopback port is reachable (the switch works)', async () => {
  const t = await openTunnel(lenient.proxyPort, `127.0.0.1:${counter.port}`);
  assert.equal(t.status, 200);
  t.socket.destroy();
  await waitFor(() => counter.count() === 1);
});

test('malformed CONNECT targets: 400 BAD_TARGET, never dialled', async () => {
  for (const target of ['api.github.com', 'api.github.com:0', 'api.github.com:0443', 'api.github.com:+443', '0x7f.1:443', '2130706433:443', 'user@api.github.com:443', '127.1:443']) {
    const r = await connectStatus(open, target);
    assert.deepEqual([r.status, r.code], [400, 'BAD_TARGET'], target);
  }
  const line = tunnelLines(open.requestLines()).at(-1)!;
  assert.equal(line.decision, 'refused');
  assert.equal(line.reason, 'bad_target');
});

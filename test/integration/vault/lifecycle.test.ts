// Client lifecycle: timeouts, waiting while connecting, failing fast while failed, frames too large to
// send, and close() leaving no socket or timer behind in every state.
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { VaultFrameTooLargeError, VaultTimeoutError, VaultUnavailableError } from '../../../src/vault/errors.js';
import { startTestVault } from '../../helpers/devvault.js';
import { caught, liveHandles, makeClient, untilStatus } from './support.js';

test('a slow answer is a VaultTimeoutError; the late answer is ignored quietly; the connection lives on', async () => {
  const tv = await startTestVault({ credentials: { k: 'v' } });
  const { client, events } = makeClient(tv.endpoint, { seed: tv.seed, agent: tv.agent, callTimeoutMs: 50 });
  try {
    client.start();
    await client.whenReady(5000);
    tv.vault.setDelay(150);
    const e = await caught(client.useHttpHeader('k', { headerType: 'bearer' }));
    assert.ok(e instanceof VaultTimeoutError, String(e));
    tv.vault.setDelay(0);
    await new Promise((r) => setTimeout(r, 200)); // let the late answer arrive
    assert.equal((await client.useHttpHeader('k', { headerType: 'api_key' })).headerValue.reveal(), 'v');
    assert.ok(!events.some((ev) => ev.type === 'protocol'), 'a late answer is not a protocol error');
    assert.equal(events.filter((ev) => ev.type === 'state' && ev.state.status === 'ready').length, 1);
    const failed = events.find((ev) => ev.type === 'call' && !ev.ok);
    assert.deepEqual(failed && { ...failed, ms: 0 }, { type: 'call', method: 'use', operation: 'http_header', ok: false, code: 'VAULT_TIMEOUT', ms: 0 });
  } finally {
    await client.close();
    await tv.close();
  }
});

test('calls made while connecting wait for the connection', async () => {
  const tv = await startTestVault({ credentials: { k: 'v' } });
  const { client } = makeClient(tv.endpoint, { seed: tv.seed, agent: tv.agent });
  try {
    client.start();
    assert.equal(client.state.status, 'connecting');
    const all = await Promise.all([1, 2, 3].map(() => client.useHttpHeader('k', { headerType: 'api_key' })));
    assert.deepEqual(all.map((h) => h.headerValue.reveal()), ['v', 'v', 'v']);
  } finally {
    await client.close();
    await tv.close();
  }
});

test('nothing listening: state failed with the reason, calls fail fast with VaultUnavailableError', async () => {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const { client } = makeClient({ host: '127.0.0.1', port }, { callTimeoutMs: 60_000, backoff: { initialMs: 10_000, maxMs: 10_000 } });
  try {
    client.start();
    await untilStatus(client, 'failed');
    assert.match(client.state.reason ?? '', /ECONNREFUSED/);
    const e = await caught(client.list());
    assert.ok(e instanceof VaultUnavailableError, String(e));
    assert.match((e as Error).message, /ECONNREFUSED/);
  } finally {
    await client.close();
  }
});

test('a handshake that never answers times out the attempt (connectTimeoutMs)', async () => {
  const silent = new Set<Socket>();
  const server = createServer((s) => void silent.add(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { client } = makeClient({ host: '127.0.0.1', port: (server.address() as { port: number }).port }, { connectTimeoutMs: 30, backoff: { initialMs: 10_000, maxMs: 10_000 } });
  try {
    client.start();
    await untilStatus(client, 'failed');
    assert.match(client.state.reason ?? '', /VAULT_TIMEOUT: vault did not answer authenticate within 30 ms/);
  } finally {
    await client.close();
    for (const s of silent) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test('a request over 4 MiB is refused before sending; the connection is unaffected', async () => {
  const tv = await startTestVault({ credentials: { k: 'v' } });
  const { client } = makeClient(tv.endpoint, { seed: tv.seed, agent: tv.agent });
  try {
    client.start();
    await client.whenReady(5000);
    const e = await caught(client.sign('k', 'x'.repeat(4 * 1024 * 1024)));
    assert.ok(e instanceof VaultFrameTooLargeError, String(e));
    assert.equal(typeof (await client.sign('k', 'small')), 'string');
    assert.equal(client.state.status, 'ready');
  } finally {
    await client.close();
    await tv.close();
  }
});

test('close() in every state leaves no socket or timer, rejects pending calls, and is final', async () => {
  const baseline = liveHandles();
  const tv = await startTestVault({ credentials: { k: 'v' }, socket: true });

  // Ready, with calls in flight.
  const a = makeClient(tv.endpoint, { seed: tv.seed, agent: tv.agent, callTimeoutMs: 60_000 });
  a.client.start();
  await a.client.whenReady(5000);
  tv.vault.setDelay(60_000);
  const pending = caught(a.client.useHttpHeader('k', { headerType: 'bearer' }));
  const waiting = a.client.whenReady();
  await a.client.close();
  assert.ok((await pending) instanceof VaultUnavailableError);
  await waiting; // it was already ready
  tv.vault.setDelay(0);
  assert.equal(a.client.state.status, 'closed');
  assert.ok((await caught(a.client.list())) instanceof VaultUnavailableError);
  assert.ok((await caught(a.client.whenReady())) instanceof VaultUnavailableError);
  await a.client.close(); // idempotent

  // Failed, waiting out a long backoff.
  const b = makeClient({ socket: `${tv.dir}/nothing-here.sock` }, { backoff: { initialMs: 60_000, maxMs: 60_000 } });
  b.client.start();
  await untilStatus(b.client, 'failed');
  const forever = caught(b.client.whenReady());
  await b.client.close();
  assert.ok((await forever) instanceof VaultUnavailableError);

  // Never started.
  const c = makeClient(tv.endpoint);
  assert.ok((await caught(c.client.list())) instanceof VaultUnavailableError);
  await c.client.close();

  // Mid-handshake.
  tv.vault.setDelay(60_000);
  const d = makeClient(tv.endpoint, { seed: tv.seed, agent: tv.agent, connectTimeoutMs: 60_000 });
  d.client.start();
  // Client a authenticated once; wait for d's authenticate to arrive (its answer is held back).
  while (tv.vault.audit.filter((x) => x.method === 'authenticate').length < 2) await new Promise((r) => setTimeout(r, 2));
  assert.equal(d.client.state.status, 'connecting');
  await d.client.close();
  tv.vault.setDelay(0);

  await tv.close();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(liveHandles(), baseline);
});

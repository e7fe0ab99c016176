// The vault dies with calls in flight: they reject at once with VaultUnavailableError (not after their
// timeout), the client reconnects by itself when the vault is back on the same port, nothing leaks.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startDevVault } from '../../../src/devvault/server.js';
import { VaultUnavailableError } from '../../../src/vault/errors.js';
import { bytesToHex } from '../../../src/vault/hex.js';
import { publicKeyFromSeed } from '../../../src/vault/keys.js';
import { startTestVault } from '../../helpers/devvault.js';
import { liveHandles, makeClient, untilStatus } from './support.js';

test('pending calls reject promptly, then the client reconnects when the vault returns', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (r: unknown): void => void unhandled.push(r);
  process.on('unhandledRejection', onUnhandled);
  const baseline = liveHandles();

  const tv = await startTestVault({ credentials: { k: 'sk-before' } });
  const port = (tv.endpoint as { port: number }).port;
  // A long call timeout: a rejection can only come from the dropped connection.
  const { client, events } = makeClient(tv.endpoint, { seed: tv.seed, agent: tv.agent, callTimeoutMs: 60_000, backoff: { initialMs: 5, maxMs: 20 } });
  client.start();
  await client.whenReady(5000);

  tv.vault.setDelay(60_000); // hold every answer: the calls stay in flight
  const inFlight = Array.from({ length: 20 }, () => client.useHttpHeader('k', { headerType: 'bearer' }));
  const settled = Promise.allSettled(inFlight);
  while (tv.vault.audit.filter((a) => a.method === 'use').length < 20) await new Promise((r) => setTimeout(r, 2));

  await tv.vault.close(); // kill
  const results = await settled;
  for (const r of results) {
    assert.equal(r.status, 'rejected');
    assert.ok((r as PromiseRejectedResult).reason instanceof VaultUnavailableError, String((r as PromiseRejectedResult).reason));
  }
  assert.ok(events.some((e) => e.type === 'state' && e.state.status !== 'ready'));

  // While the vault is down, calls fail fast rather than queueing.
  await untilStatus(client, 'failed');
  await assert.rejects(client.useHttpHeader('k', { headerType: 'bearer' }), VaultUnavailableError);

  // Same port, same agent key: the client finds it without being told.
  const back = await startDevVault({
    config: {
      agents: { [tv.agent]: { public_key: bytesToHex(publicKeyFromSeed(tv.seed)) } },
      credentials: { k: { value: 'sk-after' } },
      policies: [{ principal: 'agent:*', resources: ['*'], actions: ['use'] }],
    },
    listen: { host: '127.0.0.1', port },
    log: () => undefined,
  });
  await untilStatus(client, 'ready');
  assert.equal((await client.useHttpHeader('k', { headerType: 'bearer' })).headerValue.reveal(), 'Bearer sk-after');

  await client.close();
  await back.close();
  await tv.close();
  process.off('unhandledRejection', onUnhandled);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(unhandled, []);
  assert.deepEqual(liveHandles(), baseline, 'no socket, server or timer left behind');
});
